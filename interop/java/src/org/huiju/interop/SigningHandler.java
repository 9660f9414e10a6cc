package org.huiju.interop;

import java.io.ByteArrayOutputStream;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.util.Collections;
import java.util.Set;

import javax.xml.namespace.QName;
import javax.xml.transform.dom.DOMSource;
import javax.xml.ws.handler.MessageContext;
import javax.xml.ws.handler.soap.SOAPHandler;
import javax.xml.ws.handler.soap.SOAPMessageContext;
import javax.xml.soap.SOAPMessage;

import org.w3c.dom.Document;
import org.w3c.dom.Element;

/**
 * A JAX-WS handler that signs every outgoing message and verifies every incoming one with
 * {@link Profile}. It declares that it understands wsse:Security, so JAX-WS accepts the
 * mustUnderstand="1" Security header of signed replies.
 *
 * With a {@link Wss4jSigner} the signing is WSS4J's, set up from the profile's settings only.
 * tamper "wrong-key" signs with a fresh key while the token carries the real certificate;
 * "alter" changes the Body after signing. Both must be refused by the receiver.
 */
public final class SigningHandler implements SOAPHandler<SOAPMessageContext> {
    private final PrivateKey key;
    private final X509Certificate certificate;
    private final X509Certificate ca;
    private final String tamper;
    private final Wss4jSigner wss4j;
    String sentHash;
    String sentMessageId;
    Profile.Verified reply;
    boolean wss4jVerified;
    String replyProblem;

    SigningHandler(PrivateKey key, X509Certificate certificate, X509Certificate ca, String tamper, Wss4jSigner wss4j) {
        this.key = key;
        this.certificate = certificate;
        this.ca = ca;
        this.tamper = tamper;
        this.wss4j = wss4j;
    }

    @Override
    public Set<QName> getHeaders() {
        return Collections.singleton(new QName(Profile.WSSE, "Security"));
    }

    @Override
    public boolean handleMessage(SOAPMessageContext context) {
        boolean outbound = (Boolean) context.get(MessageContext.MESSAGE_OUTBOUND_PROPERTY);
        try {
            if (outbound) {
                sign(context.getMessage());
            } else {
                verify(context.getMessage(), false);
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return true;
    }

    @Override
    public boolean handleFault(SOAPMessageContext context) {
        try {
            verify(context.getMessage(), true);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return true;
    }

    @Override
    public void close(MessageContext context) {
    }

    private void sign(SOAPMessage message) throws Exception {
        Document document = Profile.parse(bytes(message));
        PrivateKey signingKey = key;
        if ("wrong-key".equals(tamper)) {
            KeyPairGenerator generator = KeyPairGenerator.getInstance(key.getAlgorithm());
            if ("EC".equals(key.getAlgorithm())) {
                generator.initialize(new ECGenParameterSpec("secp256r1"));
            } else {
                generator.initialize(2048);
            }
            signingKey = generator.generateKeyPair().getPrivate();
        }
        if (wss4j != null) {
            wss4j.sign(document); // by configuration, as CXF signs
        } else {
            Profile.sign(document, signingKey, certificate);
        }
        Element header = Profile.only(document.getDocumentElement(), Profile.SOAP11, "Header");
        sentMessageId = Profile.only(Profile.only(header, Profile.HX, "ExchangeHeader"), Profile.HX, "messageId")
            .getTextContent().trim();
        if ("alter".equals(tamper)) {
            Element body = Profile.only(document.getDocumentElement(), Profile.SOAP11, "Body");
            Element leaf = firstLeaf(body);
            leaf.setTextContent(leaf.getTextContent() + "0");
        }
        sentHash = Profile.requestHash(document); // of what is sent: a reply must answer exactly that
        message.getSOAPPart().setContent(new DOMSource(document));
        message.saveChanges();
        if (System.getenv("INTEROP_DUMP") != null) {
            java.nio.file.Files.write(java.nio.file.Paths.get(System.getenv("INTEROP_DUMP")), bytes(message));
        }
    }

    private void verify(SOAPMessage message, boolean fault) throws Exception {
        Document document = Profile.parse(bytes(message));
        if (document.getElementsByTagNameNS(Profile.WSSE, "Security").getLength() == 0 && fault) {
            // Huiju answers a call that did not verify with an unsigned fault that echoes nothing.
            replyProblem = "unsigned fault";
            return;
        }
        if (wss4j != null) {
            Wss4jSigner.verify(Profile.parse(bytes(message)), ca); // as a CXF client would, besides ours
            wss4jVerified = true;
        }
        Profile.Verified verified = Profile.verify(document, ca);
        if (!sentMessageId.equals(verified.header.get("messageId"))) {
            throw new Profile.Refused("the reply answers message " + verified.header.get("messageId"));
        }
        if (!sentHash.equals(verified.header.get("requestHash"))) {
            throw new Profile.Refused("the reply's requestHash is not that of the request sent");
        }
        reply = verified;
    }

    private static byte[] bytes(SOAPMessage message) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        message.writeTo(out);
        return out.toByteArray();
    }

    private static Element firstLeaf(Element element) {
        for (Element child : Profile.children(element)) {
            return firstLeaf(child);
        }
        return element;
    }
}

package org.huiju.interop;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;

import org.apache.xml.security.c14n.Canonicalizer;
import org.apache.xml.security.signature.Reference;
import org.apache.xml.security.signature.SignedInfo;
import org.apache.xml.security.signature.XMLSignature;
import org.apache.xml.security.transforms.Transforms;
import org.w3c.dom.Attr;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NamedNodeMap;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * Huiju's signing profile (docs/integrator/signing-profile.md), written from the published text
 * with Apache Santuario only: OASIS WS-Security 1.1 with the X.509 token profile, SOAP 1.1.
 *
 * sign(): a wsse:Security header (mustUnderstand) holding a wsu:Timestamp, the signer's
 * certificate as a BinarySecurityToken and a ds:Signature over the Timestamp, the ExchangeHeader
 * and the Body by wsu:Id (exclusive c14n, SHA-256, rsa-sha256 or ecdsa-sha256 by key type,
 * KeyInfo a SecurityTokenReference to the token). verify(): the same layout and nothing looser,
 * the certificate issued by the given CA and fit for signing, and the signature.
 */
public final class Profile {
    public static final String SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/";
    public static final String WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
    public static final String WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
    public static final String DS = "http://www.w3.org/2000/09/xmldsig#";
    public static final String HX = "urn:huiju:exchange:1";
    public static final String X509V3 =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3";
    public static final String BASE64 =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";
    static final String EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#";
    static final String SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256";
    static final String RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    static final String ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
    static final long MAX_SKEW_SECONDS = 300;

    static {
        org.apache.xml.security.Init.init();
    }

    private Profile() {
    }

    /** What a verified message may be trusted for. */
    public static final class Verified {
        public final X509Certificate signer;
        public final Map<String, String> header;
        public final Element body;
        public final Instant created;

        Verified(X509Certificate signer, Map<String, String> header, Element body, Instant created) {
            this.signer = signer;
            this.header = header;
            this.body = body;
            this.created = created;
        }
    }

    /** A message that breaks the profile, with the reason. */
    public static final class Refused extends Exception {
        Refused(String reason) {
            super(reason);
        }
    }

    // --- parsing and writing -----------------------------------------------------------------------

    public static Document parse(byte[] data) throws Exception {
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setNamespaceAware(true);
        factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        factory.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
        factory.setExpandEntityReferences(false);
        DocumentBuilder builder = factory.newDocumentBuilder();
        return builder.parse(new ByteArrayInputStream(data));
    }

    public static byte[] serialize(Document document) throws Exception {
        Transformer transformer = TransformerFactory.newInstance().newTransformer();
        transformer.setOutputProperty(OutputKeys.ENCODING, "UTF-8");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        transformer.transform(new DOMSource(document), new StreamResult(out));
        return out.toByteArray();
    }

    // --- signing ------------------------------------------------------------------------------------

    /** Sign the envelope in place as the profile says. */
    public static void sign(Document document, PrivateKey key, X509Certificate certificate) throws Exception {
        Element envelope = document.getDocumentElement();
        Element header = only(envelope, SOAP11, "Header");
        Element body = only(envelope, SOAP11, "Body");
        Element exchange = only(header, HX, "ExchangeHeader");
        String bodyId = wsuId(body, "id-");
        String headerId = wsuId(exchange, "id-");

        Element security = document.createElementNS(WSSE, "wsse:Security");
        security.setAttributeNS(XMLConstants.XMLNS_ATTRIBUTE_NS_URI, "xmlns:wsse", WSSE);
        security.setAttributeNS(XMLConstants.XMLNS_ATTRIBUTE_NS_URI, "xmlns:wsu", WSU);
        security.setAttributeNS(SOAP11, envelope.getPrefix() + ":mustUnderstand", "1");
        header.insertBefore(security, header.getFirstChild());

        Element timestamp = document.createElementNS(WSU, "wsu:Timestamp");
        String timestampId = "TS-" + UUID.randomUUID();
        timestamp.setAttributeNS(WSU, "wsu:Id", timestampId);
        timestamp.setIdAttributeNS(WSU, "Id", true);
        Instant now = Instant.now().truncatedTo(ChronoUnit.MILLIS);
        DateTimeFormatter format = DateTimeFormatter.ISO_INSTANT;
        Element created = document.createElementNS(WSU, "wsu:Created");
        created.setTextContent(format.format(now));
        Element expires = document.createElementNS(WSU, "wsu:Expires");
        expires.setTextContent(format.format(now.plusSeconds(MAX_SKEW_SECONDS)));
        timestamp.appendChild(created);
        timestamp.appendChild(expires);
        security.appendChild(timestamp);

        Element token = document.createElementNS(WSSE, "wsse:BinarySecurityToken");
        String tokenId = "X509-" + UUID.randomUUID();
        token.setAttribute("EncodingType", BASE64);
        token.setAttribute("ValueType", X509V3);
        token.setAttributeNS(WSU, "wsu:Id", tokenId);
        token.setTextContent(Base64.getEncoder().encodeToString(certificate.getEncoded()));
        security.appendChild(token);

        String method = "EC".equals(key.getAlgorithm()) ? ECDSA_SHA256 : RSA_SHA256;
        XMLSignature signature = new XMLSignature(document, "", method, Canonicalizer.ALGO_ID_C14N_EXCL_OMIT_COMMENTS);
        security.appendChild(signature.getElement());
        for (String id : new String[] {timestampId, headerId, bodyId}) {
            Transforms transforms = new Transforms(document);
            transforms.addTransform(Transforms.TRANSFORM_C14N_EXCL_OMIT_COMMENTS);
            signature.addDocument("#" + id, transforms, SHA256);
        }
        Element reference = document.createElementNS(WSSE, "wsse:Reference");
        reference.setAttribute("URI", "#" + tokenId);
        reference.setAttribute("ValueType", X509V3);
        Element tokenReference = document.createElementNS(WSSE, "wsse:SecurityTokenReference");
        tokenReference.appendChild(reference);
        signature.getKeyInfo().addUnknownElement(tokenReference);
        signature.sign(key);
    }

    /** requestHash: SHA-256 (hex) of the exclusive c14n of the element inside soap:Body. */
    public static String requestHash(Document document) throws Exception {
        Element body = only(document.getDocumentElement(), SOAP11, "Body");
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        Canonicalizer c14n = Canonicalizer.getInstance(Canonicalizer.ALGO_ID_C14N_EXCL_OMIT_COMMENTS);
        for (Node child = body.getFirstChild(); child != null; child = child.getNextSibling()) {
            if (child.getNodeType() == Node.ELEMENT_NODE) {
                digest.update(c14n.canonicalizeSubtree(child));
            }
        }
        StringBuilder hex = new StringBuilder();
        for (byte b : digest.digest()) {
            hex.append(String.format("%02x", b));
        }
        return hex.toString();
    }

    // --- verifying ----------------------------------------------------------------------------------

    /** Verify a received envelope as the profile says; the CA is the one trust anchor. */
    public static Verified verify(Document document, X509Certificate ca) throws Exception {
        Element envelope = document.getDocumentElement();
        if (!SOAP11.equals(envelope.getNamespaceURI()) || !"Envelope".equals(envelope.getLocalName())) {
            throw new Refused("not a SOAP 1.1 envelope");
        }
        Element header = only(envelope, SOAP11, "Header");
        Element body = only(envelope, SOAP11, "Body");
        Element exchange = only(header, HX, "ExchangeHeader");
        if (document.getElementsByTagNameNS(WSSE, "Security").getLength() != 1
                || document.getElementsByTagNameNS(DS, "Signature").getLength() != 1) {
            throw new Refused("exactly one wsse:Security header and one ds:Signature expected");
        }
        Element security = only(header, WSSE, "Security");
        Element timestamp = only(security, WSU, "Timestamp");
        Element token = only(security, WSSE, "BinarySecurityToken");
        Element signatureElement = only(security, DS, "Signature");
        if (children(security).size() != 3) {
            throw new Refused("the Security header holds more than Timestamp, token and Signature");
        }
        String[] signedIds = {registerId(timestamp), registerId(exchange), registerId(body)};
        String tokenId = token.getAttributeNS(WSU, "Id");
        Map<String, Integer> counts = new HashMap<>();
        countIds(envelope, counts);
        for (String id : new String[] {signedIds[0], signedIds[1], signedIds[2], tokenId}) {
            if (id.isEmpty() || counts.getOrDefault(id, 0) != 1) {
                throw new Refused("Id " + id + " must occur exactly once (signature wrapping?)");
            }
        }

        if (!X509V3.equals(token.getAttribute("ValueType")) || !BASE64.equals(token.getAttribute("EncodingType"))) {
            throw new Refused("the BinarySecurityToken is not an X.509 v3 certificate in Base64Binary");
        }
        X509Certificate signer = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(
            new ByteArrayInputStream(Base64.getMimeDecoder().decode(token.getTextContent())));
        signer.verify(ca.getPublicKey()); // issued by the one CA we trust
        signer.checkValidity();
        boolean[] usage = signer.getKeyUsage();
        if (usage == null || !usage[0] || !usage[1]) {
            throw new Refused("the signer's certificate is not a signing certificate");
        }

        XMLSignature signature = new XMLSignature(signatureElement, "", true);
        SignedInfo signedInfo = signature.getSignedInfo();
        if (!EXC_C14N.equals(signedInfo.getCanonicalizationMethodURI())) {
            throw new Refused("SignedInfo must use exclusive c14n");
        }
        String method = signedInfo.getSignatureMethodURI();
        if (!RSA_SHA256.equals(method) && !ECDSA_SHA256.equals(method)) {
            throw new Refused("signature method " + method + " is not in the profile");
        }
        List<String> uris = new ArrayList<>();
        for (int i = 0; i < signedInfo.getLength(); i++) {
            Reference reference = signedInfo.item(i);
            Transforms transforms = reference.getTransforms();
            if (transforms == null || transforms.getLength() != 1
                    || !EXC_C14N.equals(transforms.item(0).getURI())
                    || !SHA256.equals(reference.getMessageDigestAlgorithm().getAlgorithmURI())) {
                throw new Refused("reference " + reference.getURI() + " is not exc-c14n with SHA-256");
            }
            uris.add(reference.getURI());
        }
        List<String> expected = List.of("#" + signedIds[0], "#" + signedIds[1], "#" + signedIds[2]);
        if (uris.size() != 3 || !uris.containsAll(expected)) {
            throw new Refused("the signature does not cover exactly Timestamp, ExchangeHeader and Body: " + uris);
        }
        NodeList references = signatureElement.getElementsByTagNameNS(WSSE, "Reference");
        if (references.getLength() != 1
                || !("#" + tokenId).equals(((Element) references.item(0)).getAttribute("URI"))) {
            throw new Refused("KeyInfo must refer to the BinarySecurityToken");
        }
        if (!signature.checkSignatureValue(signer.getPublicKey())) {
            throw new Refused("the signature does not verify");
        }

        Map<String, String> values = new HashMap<>();
        for (Element child : children(exchange)) {
            values.put(child.getLocalName(), child.getTextContent().trim());
        }
        Instant created = Instant.parse(only(timestamp, WSU, "Created").getTextContent().trim());
        if (Duration.between(created, Instant.now()).abs().getSeconds() > MAX_SKEW_SECONDS) {
            throw new Refused("the Timestamp is more than " + MAX_SKEW_SECONDS + " s from this clock");
        }
        return new Verified(signer, values, body, created);
    }

    // --- helpers ------------------------------------------------------------------------------------

    static List<Element> children(Element parent) {
        List<Element> out = new ArrayList<>();
        for (Node child = parent.getFirstChild(); child != null; child = child.getNextSibling()) {
            if (child.getNodeType() == Node.ELEMENT_NODE) {
                out.add((Element) child);
            }
        }
        return out;
    }

    static Element only(Element parent, String namespace, String name) throws Refused {
        Element found = null;
        for (Element child : children(parent)) {
            if (namespace.equals(child.getNamespaceURI()) && name.equals(child.getLocalName())) {
                if (found != null) {
                    throw new Refused("more than one " + name);
                }
                found = child;
            }
        }
        if (found == null) {
            throw new Refused("no " + name);
        }
        return found;
    }

    private static String wsuId(Element element, String prefix) {
        String id = element.getAttributeNS(WSU, "Id");
        if (id.isEmpty()) {
            id = prefix + UUID.randomUUID();
            // Declared in the DOM itself: canonicalization reads namespace declarations, not fix-ups
            // a serializer would add later.
            element.setAttributeNS(XMLConstants.XMLNS_ATTRIBUTE_NS_URI, "xmlns:wsu", WSU);
            element.setAttributeNS(WSU, "wsu:Id", id);
        }
        element.setIdAttributeNS(WSU, "Id", true);
        return id;
    }

    private static String registerId(Element element) {
        String id = element.getAttributeNS(WSU, "Id");
        if (!id.isEmpty()) {
            element.setIdAttributeNS(WSU, "Id", true);
        }
        return id;
    }

    private static void countIds(Element element, Map<String, Integer> counts) {
        NamedNodeMap attributes = element.getAttributes();
        for (int i = 0; i < attributes.getLength(); i++) {
            Attr attribute = (Attr) attributes.item(i);
            String local = attribute.getLocalName() != null ? attribute.getLocalName() : attribute.getName();
            if (local.equalsIgnoreCase("id")) {
                counts.merge(attribute.getValue(), 1, Integer::sum);
            }
        }
        for (Element child : children(element)) {
            countIds(child, counts);
        }
    }

    static String text(byte[] data) {
        return new String(data, StandardCharsets.UTF_8);
    }
}

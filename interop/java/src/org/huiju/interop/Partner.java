package org.huiju.interop;

import java.io.FileInputStream;
import java.io.InputStream;
import java.net.URL;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.GregorianCalendar;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TimeZone;
import java.util.UUID;

import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.xml.datatype.DatatypeFactory;
import javax.xml.datatype.XMLGregorianCalendar;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.Holder;
import javax.xml.ws.handler.Handler;
import javax.xml.ws.soap.SOAPFaultException;

import org.huiju.interop.citizen.CitizenInfoPortType;
import org.huiju.interop.citizen.CitizenInfoService;
import org.huiju.interop.citizen.VerifyIdentity;
import org.huiju.interop.citizen.VerifyIdentityResponse;
import org.huiju.interop.inbound.Decision;
import org.huiju.interop.inbound.HuijuInboundPortType;
import org.huiju.interop.inbound.HuijuInboundService;
import org.huiju.interop.inbound.NotifyDecision;
import org.huiju.interop.inbound.NotifyDecisionResponse;

/**
 * A partner system of Huiju built from Debian's packages only: the classes wsimport generated from
 * Huiju's published WSDLs, JAX-WS, and Apache Santuario for the signing profile.
 *
 * <pre>
 * java ... org.huiju.interop.Partner verify-identity --wsdl URL [--tls tls.p12] [--signing signing.p12]
 *     [--password PW] [--ca ca.pem] --id-number N --name NAME [--tamper wrong-key|alter]
 * java ... org.huiju.interop.Partner notify-decision --wsdl URL --signing signing.p12 --ca ca.pem
 *     [--tls tls.p12] [--password PW] [--client egov_approval] --case C --receipt R
 *     --decision approved|denied [--reason TEXT] [--tamper wrong-key|alter]
 * </pre>
 *
 * {@code --engine wss4j} signs with Apache WSS4J set up from the profile (as CXF does) instead of
 * the kit's own Santuario code.
 *
 * Prints one JSON object; exit 0 when answered, 3 when refused with a SOAP fault, 1 otherwise.
 */
public final class Partner {
    private Partner() {
    }

    public static void main(String[] argv) throws Exception {
        if (argv.length == 0) {
            System.err.println("usage: Partner verify-identity|notify-decision --wsdl URL ...");
            System.exit(2);
        }
        Map<String, String> args = new HashMap<>();
        for (int i = 1; i + 1 < argv.length; i += 2) {
            args.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
        }
        char[] password = args.getOrDefault("password", "").toCharArray();
        X509Certificate ca = args.containsKey("ca") ? readCertificate(args.get("ca")) : null;
        useTls(args.get("tls"), password, ca);
        SigningHandler handler = null;
        if (args.containsKey("signing")) {
            KeyStore signing = readKeyStore(args.get("signing"), password);
            String alias = signing.aliases().nextElement();
            Wss4jSigner wss4j = "wss4j".equals(args.get("engine")) ? new Wss4jSigner(signing, alias, password) : null;
            handler = new SigningHandler((PrivateKey) signing.getKey(alias, password),
                (X509Certificate) signing.getCertificate(alias), ca, args.getOrDefault("tamper", "none"), wss4j);
        }
        try {
            if ("verify-identity".equals(argv[0])) {
                verifyIdentity(args, handler);
            } else if ("notify-decision".equals(argv[0])) {
                notifyDecision(args, handler);
            } else {
                throw new IllegalArgumentException("unknown command " + argv[0]);
            }
        } catch (SOAPFaultException fault) {
            System.out.println("{\"ok\": false, \"faultcode\": " + quote(fault.getFault().getFaultCode())
                + ", \"faultstring\": " + quote(fault.getFault().getFaultString())
                + ", \"fault_signed\": " + (handler != null && handler.reply != null) + "}");
            System.exit(3);
        }
    }

    private static void verifyIdentity(Map<String, String> args, SigningHandler handler) throws Exception {
        CitizenInfoPortType port = new CitizenInfoService(new URL(args.get("wsdl"))).getCitizenInfoPort();
        attach(port, handler);
        VerifyIdentity request = new VerifyIdentity();
        request.setIdNumber(args.get("id-number"));
        request.setName(args.get("name"));
        org.huiju.interop.citizen.ExchangeHeaderType header = new org.huiju.interop.citizen.ExchangeHeaderType();
        header.setClient(args.getOrDefault("client", "partner-java"));
        header.setService("citizen_info.VerifyIdentity");
        header.setMessageId(UUID.randomUUID().toString());
        header.setUserId("interop-kit");
        header.setTimestamp(now());
        header.setProtocolVersion("1.0");
        Holder<org.huiju.interop.citizen.ExchangeHeaderType> holder = new Holder<>(header);
        VerifyIdentityResponse response = port.verifyIdentity(request, holder);
        print(response.isMatch(), holder.value.getMessageId(), holder.value.getRequestHash(), handler);
    }

    private static void notifyDecision(Map<String, String> args, SigningHandler handler) throws Exception {
        HuijuInboundPortType port = new HuijuInboundService(new URL(args.get("wsdl"))).getHuijuInboundPort();
        attach(port, handler);
        NotifyDecision request = new NotifyDecision();
        request.setCaseNumber(args.get("case"));
        request.setReceiptNumber(args.get("receipt"));
        request.setDecision(Decision.fromValue(args.getOrDefault("decision", "approved")));
        request.setDecidedBy("egov-reviewer-java");
        request.setDecidedAt(now());
        request.setReason(args.get("reason"));
        org.huiju.interop.inbound.ExchangeHeaderType header = new org.huiju.interop.inbound.ExchangeHeaderType();
        header.setClient(args.getOrDefault("client", "egov_approval"));
        header.setService("huiju.NotifyDecision");
        header.setMessageId(UUID.randomUUID().toString());
        header.setUserId("system");
        header.setCaseNumber(args.get("case"));
        header.setTimestamp(now());
        header.setProtocolVersion("1.0");
        Holder<org.huiju.interop.inbound.ExchangeHeaderType> holder = new Holder<>(header);
        NotifyDecisionResponse response = port.notifyDecision(request, holder);
        print(response.isAccepted(), holder.value.getMessageId(), holder.value.getRequestHash(), handler);
    }

    private static void attach(Object port, SigningHandler handler) {
        if (handler == null) {
            return;
        }
        BindingProvider provider = (BindingProvider) port;
        @SuppressWarnings("rawtypes")
        List<Handler> chain = provider.getBinding().getHandlerChain();
        chain.add(handler);
        provider.getBinding().setHandlerChain(chain);
    }

    private static void print(boolean value, String messageId, String requestHash, SigningHandler handler) {
        StringBuilder out = new StringBuilder("{\"ok\": true, \"value\": " + value);
        out.append(", \"message_id\": ").append(quote(messageId));
        out.append(", \"request_hash\": ").append(quote(requestHash));
        if (handler != null && handler.reply != null) {
            out.append(", \"reply_signer\": ").append(quote(handler.reply.signer.getSubjectX500Principal().getName()));
            out.append(", \"sent_hash\": ").append(quote(handler.sentHash));
            out.append(", \"wss4j_verified\": ").append(handler.wss4jVerified);
        }
        System.out.println(out.append("}"));
    }

    private static XMLGregorianCalendar now() throws Exception {
        GregorianCalendar calendar = new GregorianCalendar(TimeZone.getTimeZone("UTC"));
        return DatatypeFactory.newInstance().newXMLGregorianCalendar(calendar);
    }

    private static void useTls(String tlsFile, char[] password, X509Certificate ca) throws Exception {
        if (ca == null) {
            return;
        }
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("huiju-ca", ca);
        TrustManagerFactory trustManagers = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trustManagers.init(trust);
        KeyManagerFactory keyManagers = null;
        if (tlsFile != null) {
            keyManagers = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            keyManagers.init(readKeyStore(tlsFile, password), password);
        }
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(keyManagers == null ? null : keyManagers.getKeyManagers(), trustManagers.getTrustManagers(), null);
        SSLContext.setDefault(context);
        HttpsURLConnection.setDefaultSSLSocketFactory(context.getSocketFactory());
    }

    private static KeyStore readKeyStore(String file, char[] password) throws Exception {
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(file)) {
            store.load(in, password);
        }
        return store;
    }

    private static X509Certificate readCertificate(String file) throws Exception {
        try (InputStream in = new FileInputStream(file)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    private static String quote(String text) {
        if (text == null) {
            return "null";
        }
        StringBuilder out = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.append('"').toString();
    }

}

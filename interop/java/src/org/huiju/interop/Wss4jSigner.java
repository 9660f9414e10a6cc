package org.huiju.interop;

import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;

import org.apache.ws.security.WSConstants;
import org.apache.ws.security.WSEncryptionPart;
import org.apache.ws.security.WSSConfig;
import org.apache.ws.security.WSSecurityEngine;
import org.apache.ws.security.WSSecurityEngineResult;
import org.apache.ws.security.components.crypto.Merlin;
import org.apache.ws.security.message.WSSecHeader;
import org.apache.ws.security.message.WSSecSignature;
import org.apache.ws.security.message.WSSecTimestamp;
import org.w3c.dom.Document;

/**
 * Signing by configuration, as Apache CXF does it: Apache WSS4J (Debian's libwss4j-java) given the
 * profile's settings only — a Timestamp, a signature by DirectReference to a BinarySecurityToken,
 * rsa-sha256 or ecdsa-sha256 with SHA-256 digests, and the parts to sign. WSS4J lays the message
 * out its own way (the Timestamp after the Signature, InclusiveNamespaces prefix lists), which the
 * profile accepts. {@link #verify} checks Huiju's answers the way a CXF client's WSS4J does: the
 * signature, the certificate against a trust store holding Huiju's CA, the Timestamp's age.
 */
final class Wss4jSigner {
    private final KeyStore store;
    private final String alias;
    private final char[] password;

    Wss4jSigner(KeyStore store, String alias, char[] password) {
        this.store = store;
        this.alias = alias;
        this.password = password;
    }

    void sign(Document document) throws Exception {
        WSSConfig.init();
        WSSecHeader header = new WSSecHeader();
        header.setMustUnderstand(true);
        header.insertSecurityHeader(document);
        WSSecTimestamp timestamp = new WSSecTimestamp();
        timestamp.setTimeToLive(300);
        timestamp.build(document, header);
        WSSecSignature signature = new WSSecSignature();
        signature.setUserInfo(alias, new String(password));
        signature.setKeyIdentifierType(WSConstants.BST_DIRECT_REFERENCE);
        String keyAlgorithm = store.getKey(alias, password).getAlgorithm();
        signature.setSignatureAlgorithm("EC".equals(keyAlgorithm) ? Profile.ECDSA_SHA256 : Profile.RSA_SHA256);
        signature.setDigestAlgo(WSConstants.SHA256);
        signature.setParts(Arrays.asList(
            new WSEncryptionPart("Timestamp", WSConstants.WSU_NS, ""),
            new WSEncryptionPart("ExchangeHeader", Profile.HX, ""),
            new WSEncryptionPart("Body", Profile.SOAP11, "")));
        Merlin crypto = new Merlin();
        crypto.setKeyStore(store);
        signature.build(document, crypto, header);
    }

    /** WSS4J's own processing of a signed answer: what a CXF client configured for the profile does. */
    static void verify(Document document, X509Certificate ca) throws Exception {
        WSSConfig.init();
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("huiju-ca", ca);
        Merlin crypto = new Merlin();
        crypto.setTrustStore(trust);
        List<WSSecurityEngineResult> results = new WSSecurityEngine().processSecurityHeader(document, null, null, crypto);
        boolean signed = false;
        boolean stamped = false;
        for (WSSecurityEngineResult result : results) {
            int action = (Integer) result.get(WSSecurityEngineResult.TAG_ACTION);
            signed |= action == WSConstants.SIGN;
            stamped |= action == WSConstants.TS;
        }
        if (!signed || !stamped) {
            throw new Profile.Refused("WSS4J found no signature or no timestamp in the answer");
        }
    }
}

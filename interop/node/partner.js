'use strict';
// A partner system of Huiju on Node.js, built with the soap package from the npm registry and the
// WSDLs Huiju publishes. It signs by configuration (soap's WSSecurityCert: a BinarySecurityToken,
// a Timestamp, a Signature over Timestamp, ExchangeHeader and Body by wsu:Id with exclusive c14n,
// rsa-sha256 and SHA-256) and verifies signed replies as Huiju's signing profile says.
//
//   node partner.js verify-identity --wsdl URL [--tls-cert F --tls-key F] [--ca F]
//       [--signing-cert F --signing-key F] --id-number N --name NAME [--tamper wrong-key|alter]
//   node partner.js notify-decision --wsdl URL --signing-cert F --signing-key F --ca F
//       --case C --receipt R --decision approved|denied [--tamper wrong-key|alter]
//
// Prints one JSON object; exit 0 when answered, 3 when refused with a SOAP fault, 1 otherwise.
const crypto = require('crypto');
const fs = require('fs');
const https = require('https');
const soap = require('soap');
const { DOMParser } = require('@xmldom/xmldom');
const { ExclusiveCanonicalization, SignedXml } = require('xml-crypto');

const NS = {
  soap: 'http://schemas.xmlsoap.org/soap/envelope/',
  wsse: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',
  wsu: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  hx: 'urn:huiju:exchange:1',
};
const X509V3 = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const ECDSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const MAX_SKEW_SECONDS = 300;

// xml-crypto verifies RSA only; the profile allows ECDSA too (XML-DSig: r||s, RFC 4051).
class EcdsaSha256 {
  getSignature() {
    throw new Error('this kit signs with RSA only');
  }

  verifySignature(material, key, signatureValue) {
    const signature = Buffer.from(signatureValue, 'base64');
    return crypto.verify('sha256', Buffer.from(material), { key, dsaEncoding: 'ieee-p1363' }, signature);
  }

  getAlgorithmName() {
    return ECDSA_SHA256;
  }
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i + 1 < argv.length; i += 2) {
    args[argv[i].replace(/^--/, '')] = argv[i + 1];
  }
  return args;
}

function children(element, ns, name) {
  const out = [];
  for (let node = element.firstChild; node; node = node.nextSibling) {
    if (node.nodeType === 1 && (!ns || (node.namespaceURI === ns && node.localName === name))) {
      out.push(node);
    }
  }
  return out;
}

function only(element, ns, name) {
  const found = children(element, ns, name);
  if (found.length !== 1) {
    throw new Error(`expected one ${name}, found ${found.length}`);
  }
  return found[0];
}

function parse(xml) {
  return new DOMParser().parseFromString(xml, 'text/xml');
}

// requestHash: SHA-256 (hex) of the exclusive c14n of the element inside soap:Body.
function requestHash(xml) {
  const envelope = parse(xml).documentElement;
  const body = only(envelope, NS.soap, 'Body');
  const hash = crypto.createHash('sha256');
  for (const element of children(body)) {
    hash.update(new ExclusiveCanonicalization().process(element, {}).toString());
  }
  return hash.digest('hex');
}

function pem(base64) {
  const lines = base64.replace(/\s+/g, '').match(/.{1,64}/g).join('\n');
  return `-----BEGIN CERTIFICATE-----\n${lines}\n-----END CERTIFICATE-----\n`;
}

// Verify a signed envelope as the profile says; return the signer and the signed header's values.
function verifyEnvelope(xml, caPem) {
  const envelope = parse(xml).documentElement;
  if (envelope.namespaceURI !== NS.soap || envelope.localName !== 'Envelope') {
    throw new Error('not a SOAP 1.1 envelope');
  }
  const header = only(envelope, NS.soap, 'Header');
  const body = only(envelope, NS.soap, 'Body');
  const exchange = only(header, NS.hx, 'ExchangeHeader');
  const security = only(header, NS.wsse, 'Security');
  const timestamp = only(security, NS.wsu, 'Timestamp');
  const token = only(security, NS.wsse, 'BinarySecurityToken');
  const signature = only(security, NS.ds, 'Signature');
  if (children(security).length !== 3 || token.getAttribute('ValueType') !== X509V3) {
    throw new Error('the Security header is not Timestamp, X.509 token and Signature');
  }
  const ids = [timestamp, exchange, body].map((element) => element.getAttributeNS(NS.wsu, 'Id'));
  for (const id of ids) {
    const count = (xml.match(new RegExp(`[Ii][Dd]="${id}"`, 'g')) || []).length;
    if (!id || count !== 1) {
      throw new Error(`Id ${id} must occur exactly once (signature wrapping?)`);
    }
  }

  const signer = new crypto.X509Certificate(Buffer.from(token.textContent.replace(/\s+/g, ''), 'base64'));
  const ca = new crypto.X509Certificate(caPem);
  const now = new Date();
  if (!signer.checkIssued(ca) || !signer.verify(ca.publicKey)) {
    throw new Error('the signing certificate is not issued by the trusted CA');
  }
  if (now < new Date(signer.validFrom) || now > new Date(signer.validTo)) {
    throw new Error('the signing certificate is not valid now');
  }

  const verifier = new SignedXml({ publicCert: pem(token.textContent) });
  verifier.SignatureAlgorithms[ECDSA_SHA256] = EcdsaSha256;
  verifier.loadSignature(signature);
  if (verifier.canonicalizationAlgorithm !== EXC_C14N) {
    throw new Error('SignedInfo must use exclusive c14n');
  }
  if (![RSA_SHA256, ECDSA_SHA256].includes(verifier.signatureAlgorithm)) {
    throw new Error(`signature method ${verifier.signatureAlgorithm} is not in the profile`);
  }
  const references = verifier.getReferences();
  const uris = references.map((reference) => reference.uri).sort();
  if (JSON.stringify(uris) !== JSON.stringify(ids.map((id) => `#${id}`).sort())) {
    throw new Error(`the signature does not cover exactly Timestamp, ExchangeHeader and Body: ${uris}`);
  }
  for (const reference of references) {
    if (reference.digestAlgorithm !== SHA256 || JSON.stringify(reference.transforms) !== JSON.stringify([EXC_C14N])) {
      throw new Error(`reference ${reference.uri} is not exc-c14n with SHA-256`);
    }
  }
  if (!verifier.checkSignature(xml)) {
    throw new Error('the signature does not verify');
  }
  // See what is signed: read the header from the signed references only.
  const signedHeader = verifier.getSignedReferences()
    .map((text) => parse(text).documentElement)
    .find((element) => element.namespaceURI === NS.hx && element.localName === 'ExchangeHeader');
  const values = {};
  for (const element of children(signedHeader)) {
    values[element.localName] = element.textContent.trim();
  }
  const created = new Date(only(timestamp, NS.wsu, 'Created').textContent.trim());
  if (Math.abs(now - created) > MAX_SKEW_SECONDS * 1000) {
    throw new Error('the Timestamp is too far from this clock');
  }
  return { signer: signer.subject.replace(/\n/g, ','), header: values };
}

function exchangeHeader(fields) {
  const parts = Object.entries(fields)
    .filter(([, value]) => value)
    .map(([name, value]) => `<hx:${name}>${value}</hx:${name}>`);
  return `<hx:ExchangeHeader xmlns:hx="${NS.hx}">${parts.join('')}</hx:ExchangeHeader>`;
}

// Signing by configuration: soap's WSSecurityCert, set to the profile. "alter" changes the Body
// after signing; "wrong-key" signs with a fresh key while the token carries the real certificate.
class PartnerSecurity extends soap.WSSecurityCert {
  constructor(keyPem, certPem, tamper, alter) {
    const key = tamper === 'wrong-key'
      ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' })
      : keyPem;
    super(key, certPem, '', {
      hasTimeStamp: true,
      signatureAlgorithm: RSA_SHA256,
      digestAlgorithm: SHA256,
      signatureTransformations: [EXC_C14N],
      additionalReferences: ['hx:ExchangeHeader'],
      signerOptions: { prefix: 'ds', idMode: 'wssecurity' },
    });
    this.tamper = tamper;
    this.alter = alter;
    this.sent = null;
  }

  postProcess(xml, envelopeKey) {
    let signed = super.postProcess(xml, envelopeKey);
    if (this.tamper === 'alter') {
      signed = signed.replace(this.alter[0], this.alter[1]);
    }
    this.sent = signed;
    return signed;
  }
}

async function main(argv) {
  const command = argv[0];
  const args = parseArgs(argv.slice(1));
  const caPem = args.ca ? fs.readFileSync(args.ca, 'utf8') : undefined;
  const agent = args.ca || args['tls-cert']
    ? new https.Agent({
      ca: caPem,
      cert: args['tls-cert'] ? fs.readFileSync(args['tls-cert']) : undefined,
      key: args['tls-key'] ? fs.readFileSync(args['tls-key']) : undefined,
    })
    : undefined;
  const options = agent ? { httpsAgent: agent } : {};
  const client = await soap.createClientAsync(args.wsdl, { wsdl_options: options, disableCache: true });
  const messageId = crypto.randomUUID();
  let operation;
  let request;
  let alter;
  let fields = { messageId, userId: 'system', timestamp: new Date().toISOString(), protocolVersion: '1.0' };
  if (command === 'verify-identity') {
    operation = 'VerifyIdentityAsync';
    request = { idNumber: args['id-number'], name: args.name };
    fields = { client: 'partner-node', service: 'citizen_info.VerifyIdentity', ...fields };
    alter = [`${args.name}<`, `${args.name}0<`];
  } else if (command === 'notify-decision') {
    operation = 'NotifyDecisionAsync';
    request = {
      caseNumber: args.case, receiptNumber: args.receipt, decision: args.decision || 'approved',
      decidedBy: 'egov-reviewer-node', decidedAt: new Date().toISOString(),
    };
    fields = { client: 'egov_approval', service: 'huiju.NotifyDecision', ...fields, caseNumber: args.case };
    alter = [`>${args.receipt}<`, `>${args.receipt}0<`];
  } else {
    throw new Error(`unknown command ${command}`);
  }
  // ExchangeHeader fields in the schema's order: client, service, messageId, userId, caseNumber, ...
  const ordered = ['client', 'service', 'messageId', 'userId', 'caseNumber', 'timestamp', 'protocolVersion'];
  client.addSoapHeader(exchangeHeader(Object.fromEntries(ordered.map((name) => [name, fields[name]]))));
  let security = null;
  if (args['signing-key']) {
    security = new PartnerSecurity(fs.readFileSync(args['signing-key'], 'utf8'),
      fs.readFileSync(args['signing-cert'], 'utf8'), args.tamper, alter);
    client.setSecurity(security);
  }
  let result;
  let raw;
  try {
    [result, raw] = await client[operation](request, options);
  } catch (error) {
    const body = error.body || (error.response && error.response.data);
    if (!body || !String(body).includes('Fault>')) {
      throw error;
    }
    const fault = error.root && error.root.Envelope.Body.Fault;
    let faultSigned = false;
    if (security && String(body).includes('BinarySecurityToken')) {
      verifyEnvelope(String(body), caPem); // a signed refusal must verify like any reply
      faultSigned = true;
    }
    console.log(JSON.stringify({
      ok: false, faultcode: fault && fault.faultcode, faultstring: fault && fault.faultstring, fault_signed: faultSigned,
    }));
    process.exit(3);
  }
  const out = { ok: true, value: result.match !== undefined ? result.match : result.accepted, message_id: messageId };
  if (security) {
    const verified = verifyEnvelope(raw, caPem);
    const sentHash = requestHash(security.sent);
    if (verified.header.messageId !== messageId) {
      throw new Error(`the reply answers message ${verified.header.messageId}`);
    }
    if (verified.header.requestHash !== sentHash) {
      throw new Error("the reply's requestHash is not that of the request sent");
    }
    Object.assign(out, { reply_signer: verified.signer, request_hash: verified.header.requestHash, sent_hash: sentHash });
  }
  console.log(JSON.stringify(out));
}

main(process.argv.slice(2)).catch((error) => {
  console.log(JSON.stringify({ ok: false, error: String(error && error.stack ? error.stack : error) }));
  process.exit(1);
});

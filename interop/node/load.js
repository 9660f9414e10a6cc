'use strict';
// Load each WSDL URL given with the soap package, as a partner's Node.js client would, and print
// {url: {service: {port: [operations]}}} as one JSON line. Exit 1 on the first that does not load.
const soap = require('soap');

async function main(urls) {
  const out = {};
  for (const url of urls) {
    const client = await soap.createClientAsync(url, { disableCache: true });
    const services = client.describe();
    out[url] = {};
    for (const [service, ports] of Object.entries(services)) {
      out[url][service] = {};
      for (const [port, operations] of Object.entries(ports)) {
        out[url][service][port] = Object.keys(operations);
      }
    }
  }
  console.log(JSON.stringify(out));
}

main(process.argv.slice(2)).catch((error) => {
  console.log(JSON.stringify({ error: String(error && error.message ? error.message : error) }));
  process.exit(1);
});

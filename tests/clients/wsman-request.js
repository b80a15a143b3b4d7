// Prints the WS-Man request that Intel's wsman-messages library (what Open
// AMT's RPS sends) builds for one call, so the Rust tests can post it.
//
//   node wsman-request.js AMT GeneralSettings Get
//   node wsman-request.js AMT PublicKeyCertificate Pull '["CB000000-0000-0000-0000-000000000000"]'
//
// argv: namespace (AMT|IPS|CIM), class property, method, optional JSON
// array of arguments.
'use strict'
const lib = require('@device-management-toolkit/wsman-messages')
const [ns, cls, method, argsJson] = process.argv.slice(2)
if (!ns || !cls || !method) {
  console.error('usage: wsman-request.js NS Class Method [JSON-args]')
  process.exit(2)
}
const messages = new lib[ns].Messages()
const target = messages[cls]
if (!target || typeof target[method] !== 'function') {
  console.error(`no ${ns}.${cls}.${method} in wsman-messages`)
  process.exit(2)
}
const args = argsJson ? JSON.parse(argsJson) : []
process.stdout.write(target[method](...args))

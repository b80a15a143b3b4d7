// wsman-request.js for the host tests: the same call into Intel's
// wsman-messages library, with `StartTime` values in the JSON arguments
// turned into Dates (AlarmClockService.AddAlarm takes a Date).
//
//   node host-request.js AMT AlarmClockService AddAlarm '[{"InstanceID":"wake","StartTime":"2026-12-01T10:00:00Z","DeleteOnCompletion":true}]'
'use strict'
const lib = require('@device-management-toolkit/wsman-messages')
const [ns, cls, method, argsJson] = process.argv.slice(2)
if (!ns || !cls || !method) {
  console.error('usage: host-request.js NS Class Method [JSON-args]')
  process.exit(2)
}
const messages = new lib[ns].Messages()
const target = messages[cls]
if (!target || typeof target[method] !== 'function') {
  console.error(`no ${ns}.${cls}.${method} in wsman-messages`)
  process.exit(2)
}
const args = (argsJson ? JSON.parse(argsJson) : []).map((a) => {
  if (a && typeof a === 'object' && typeof a.StartTime === 'string') {
    return { ...a, StartTime: new Date(a.StartTime) }
  }
  return a
})
process.stdout.write(target[method](...args))

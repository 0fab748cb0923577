// Sends numbered records to a forward endpoint with the Fluentd project's Node.js client
// (fluent-logger), the way an application that must not lose a record uses it: with acks
// (requireAckResponse), and each record whose ack does not come is sent again.
// Usage: node send.js '<json options>'; prints "sent <n>" once every record was acknowledged.
'use strict';
const fs = require('fs');
const logger = require('fluent-logger');

const o = JSON.parse(process.argv[2]);
const options = {
  host: o.host || '127.0.0.1',
  port: o.port,
  timeout: 3.0,
  eventMode: o.mode || 'Message',
  requireAckResponse: o.ack !== false,
  ackResponseTimeout: o.ackTimeout || 3000,
  reconnectInterval: 200,
  flushInterval: 20,
  internalLogger: { info() {}, error() {} },
};
if (o.sharedKey) {
  options.security = { clientHostname: 'test-client', sharedKey: o.sharedKey,
                       username: o.username || '', password: o.password || '' };
}
if (o.ca) {
  options.tls = true;
  options.tlsOptions = { ca: fs.readFileSync(o.ca), servername: 'localhost' };
}
const sender = logger.createFluentSender(o.tag || 'app', options);
sender.on('error', () => {});

function emit(record) {
  return new Promise((resolve) => {
    const attempt = () => sender.emit(record, logger.EventTime.now(), (error) => {
      if (error) {
        setTimeout(attempt, 100);  // no ack: the record may or may not be stored; send it again
      } else {
        resolve();
      }
    });
    attempt();
  });
}

(async () => {
  const start = o.start || 0;
  const batch = o.mode && o.mode !== 'Message' ? 100 : 1;  // packed modes: many records per chunk
  for (let i = start; i < start + o.count; i += batch) {
    const pending = [];
    for (let j = i; j < Math.min(i + batch, start + o.count); j++) {
      pending.push(emit({ log: `record ${String(j).padStart(6, '0')}`, seq: j, source: 'stdout' }));
    }
    await Promise.all(pending);
  }
  console.log(`sent ${o.count}`);
  sender.end();
  process.exit(0);
})();

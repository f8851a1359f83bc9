#!/usr/bin/env node
// Runs an AWS Lambda-style handler module (`export const handler = async (event) => ...`)
// as a Sesame exec integration: the event JSON arrives on stdin, the reply
// goes to stdout. Usage: node lambda-exec.mjs path/to/handler.mjs
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const modulePath = process.argv[2];
if (!modulePath) {
  console.error('usage: lambda-exec.mjs HANDLER_MODULE');
  process.exit(2);
}
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
// Handlers log with console.log (the seed's sample does); keep stdout for the reply.
console.log = (...args) => console.error(...args);
const { handler } = await import(pathToFileURL(path.resolve(modulePath)).href);
const reply = await handler(event, {});
process.stdout.write(JSON.stringify(reply ?? null));

// A mention plugin in JavaScript, built with componentize-js: it takes the mentions that
// say "js" and answers "pong from JavaScript: <the message>".
//
// Build (scripts/build-plugins.sh does this), after `npm ci` here:
//
//   npx componentize-js ping.js --wit ../../wit/since_v0.1.0 --world-name mention \
//     -d http fetch-event -o js_ping.wasm
//
// `-d http fetch-event` leaves out wasi:http, which the host does not provide (plugins
// reach the network through minstrel:plugin/http). Imports name the API version.
import { log } from "minstrel:plugin/log@0.1.0";

// Called for every mention, so keep it quick. `message.content` has the mention removed.
export function claims(message) {
  return /\bjs\b/i.test(message.content);
}

// result<reply, string>: return the reply, or throw a string for the error.
export function handle(message) {
  log("info", `mention from ${message.context.userName}`);
  return {
    content: `pong from JavaScript: ${message.content}`,
    embeds: [],
    attachments: [],
    ephemeral: false,
  };
}

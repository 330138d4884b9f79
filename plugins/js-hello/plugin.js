// A Minstrel mention plugin in JavaScript (componentize-js): the `mention` world of
// wit/since_v0.2.0. Imports name the API version.

// What the plugin is and asks for; `minstrel plugin check` shows it.
export function describe() {
  return {
    name: "js-hello", version: "0.1.0", httpHosts: [], kvQuota: undefined,
    configKeys: [], playerEvents: false,
  };
}

// The id is the plugin's own; a press on it comes back to `onPress`.
const wave = [[{ tag: "button", val: { id: "wave", label: "Wave back", style: "secondary", disabled: false } }]];

// Called for every mention, so keep it quick. `message.content` has the mention removed.
export function claims(message) {
  return /\bhello\b/i.test(message.content);
}

// Return the reply, or throw a string for the error.
export function handle(message) {
  const who = message.context.userName;
  return { content: `Hello, ${who}!`, embeds: [], attachments: [], ephemeral: false, components: wave };
}

// Answers a press with a new message; `{ tag: "update", val: reply }` would edit this one.
export function onPress(press) {
  if (press.id !== "wave") throw `unknown component ${press.id}`;
  const who = press.context.userName;
  const reply = { content: `${who} waves back.`, embeds: [], attachments: [], ephemeral: false, components: [] };
  return { tag: "reply", val: reply };
}

export function onTimer(timer) {}

// A custom integration that really keeps state, for tests and as a template:
// grants live in a JSON file named by the custom parameter `state_file`.
// Grant and revoke are idempotent, as the contract requires.
import fs from 'node:fs';
import crypto from 'node:crypto';

function load(file) {
  try { return JSON.parse(fs.readFileSync(file, 'utf8')); } catch { return { grants: {} }; }
}
function save(file, state) {
  // One temporary file per process: several handlers may run at once.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 1));
  fs.renameSync(tmp, file);
}

export const handler = async (event) => {
  const p = event.params;
  const file = p.custom_parameters.state_file;
  const state = load(file);
  state.events = (state.events || 0) + 1;
  const reply = (() => {
    switch (event.event_type) {
      case 'get-status':
        return { status: 'active' };
      case 'list-resources':
        return {
          resources: ['alpha', 'beta', 'we"ird; DROP ünï'].map((id) => ({ id, name: id.toUpperCase(), type: p.resource_type, metadata: { env: 'test' } })),
          permissions: [{ id: 'reader', name: 'Reader' }, { id: 'admin', name: 'Admin' }],
        };
      case 'list-resources-tags':
        return { tags: { alpha: { owner: 'owner@example.com' } } };
      case 'grant-access':
        state.grants[p.grant_id] ??= { username: p.username, resources: p.resources, permission: p.permission, secret: null };
        return { status: 'ok' };
      case 'revoke-access':
        delete state.grants[p.grant_id];
        return { status: 'ok' };
      case 'create-credentials':
      case 'reset-credentials': {
        const g = state.grants[p.grant_id];
        if (!g) return { status: 'error', message: `no grant ${p.grant_id}` };
        g.secret = crypto.randomBytes(16).toString('hex');
        return { status: 'ok', secret: g.secret };
      }
      case 'delete-credentials':
        if (state.grants[p.grant_id]) state.grants[p.grant_id].secret = null;
        return { status: 'ok' };
      default:
        return { status: 'error', message: `unknown event ${event.event_type}` };
    }
  })();
  save(file, state);
  return reply;
};

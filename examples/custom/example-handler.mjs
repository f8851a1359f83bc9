// Sesame's example custom-integration handler: a feature-flag service whose
// flags people may view or toggle for a while. It is written to the seed's
// custom-integration contract and shows the reply shapes Sesame accepts:
//
//   list-resources      resources of the asked type, with metadata, and the permissions
//   grant-access,
//   revoke-access       { status: 'ok' }
//   create-credentials  a status and no secret: the grantee gets the username and the
//                       integration's access details only. The second case for this
//                       event further down is never reached (the first match wins),
//                       a slip real handlers make; Sesame copes with either answer.
//   reset-credentials   { status: 'ok', secret }
//   anything else       { status: 'active' } (get-status lands here)
//
// Run it as an exec integration through lambda-exec.mjs, or deploy it as a Lambda.
import crypto from 'node:crypto';

const FLAGS = [
  { id: 'flag-checkout', name: 'New checkout', team: 'payments' },
  { id: 'flag-search', name: 'Search ranking v2', team: 'discovery' },
  { id: 'flag-beta-ui', name: 'Beta UI', team: 'web' },
];

const PERMISSIONS = [
  { id: 'toggle', name: 'Toggle the flag' },
  { id: 'view', name: 'View the flag' },
];

function describe(params) {
  return {
    resources: FLAGS.map((f) => ({ id: f.id, name: f.name, type: params.resource_type, metadata: { team: f.team } })),
    permissions: PERMISSIONS,
  };
}

// A real service would call its admin API here with the custom parameters
// (e.g. a base URL); the example only logs what it would do.
function change(verb, params) {
  const base = params.custom_parameters?.param1 ?? '(no base URL)';
  console.log(`${verb} ${params.permission} on ${params.resources.join(', ')} for ${params.username} via ${base}`);
  return { status: 'ok' };
}

export const handler = async (event) => {
  const params = event.params;
  switch (event.event_type) {
    case 'list-resources':
      return describe(params);
    case 'grant-access':
      return change('grant', params);
    case 'create-credentials':
      // Access is tied to the person's own account: nothing secret to hand out.
      return { status: 'ok' };
    case 'revoke-access':
      return change('revoke', params);
    case 'reset-credentials':
      return { status: 'ok', secret: crypto.randomBytes(16).toString('hex') };
    // eslint-disable-next-line no-duplicate-case
    case 'create-credentials':
      return { status: 'ok', secret: 'never-reached' };
    default:
      return { status: 'active' };
  }
};

// The alias API, as the organization token's holder calls it. The token
// goes in the Authorization header and nowhere else: never a cookie, never
// a URL.

const ORG = '/organization/api/v1';

// APIError is a refusal of the API, with its JSON error body's parts:
// detail (a sentence for people), code, and field (the body member a
// validation error is about, when there is one).
export class APIError extends Error {
  constructor(status, body) {
    const e = (body && body.errors) || {};
    super(e.detail || `The API answered ${status} without an explanation.`);
    this.status = status;
    this.code = e.code || '';
    this.field = e.field || '';
  }
}

async function call(token, method, path, body) {
  const headers = { Authorization: token, Accept: 'application/json' };
  const init = { method, headers, credentials: 'omit', cache: 'no-store', redirect: 'error' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (err) {
    throw new APIError(0, { errors: { detail: `The API could not be reached (${err.message}).`, code: 'network' } });
  }
  let data = null;
  try {
    data = await resp.json();
  } catch {
    // A body that is not JSON (a proxy's error page) leaves data null; the
    // status still says what happened.
  }
  if (!resp.ok) {
    throw new APIError(resp.status, data);
  }
  return data;
}

// listAliases returns one page: {after, entries: [alias, ...]}.
export async function listAliases(token, { type = '', after = '', limit = 50 } = {}) {
  const q = new URLSearchParams();
  if (type) q.set('type', type);
  if (after) q.set('after', after);
  q.set('limit', String(limit));
  const data = await call(token, 'GET', `${ORG}/aliases?${q}`);
  return { after: data.after, entries: data.entries.map((e) => e.data) };
}

export async function getAlias(token, id) {
  return (await call(token, 'GET', `/api/v1/alias/${encodeURIComponent(id)}`)).data;
}

export async function createAlias(token, fields) {
  return (await call(token, 'POST', `${ORG}/alias/create`, fields)).data;
}

export async function updateAlias(token, id, fields) {
  return (await call(token, 'POST', `${ORG}/alias/update/${encodeURIComponent(id)}`, fields)).data;
}

export async function deleteAlias(token, id) {
  return call(token, 'DELETE', `${ORG}/alias/delete/${encodeURIComponent(id)}`);
}

// revoke records a revocation on an alias: what is one of {user_id},
// {jti} or {before}. It returns what is in force afterwards, as
// listRevocations does.
export async function revoke(token, id, what) {
  return (await call(token, 'POST', `${ORG}/alias/revoke/${encodeURIComponent(id)}`, what)).data;
}

// listRevocations returns what is in force on an alias:
// {alias, revocations: [...], jwt_secrets: [{kid, current, until?}]}.
export async function listRevocations(token, id) {
  return (await call(token, 'GET', `${ORG}/alias/revocations/${encodeURIComponent(id)}`)).data;
}

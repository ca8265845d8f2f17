// Secrets made and used in the browser: random keys from
// crypto.getRandomValues, JWTs signed with WebCrypto's HMAC-SHA256. Neither
// ever leaves the page except in the request or link it is made for.

const utf8 = new TextEncoder();

export function base64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomBase64url(n) {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

// A JWT secret of 48 random bytes: 64 characters, well over the 32 bytes
// HS256 needs.
export function newJWTSecret() {
  return randomBase64url(48);
}

// A stream key of 32 random bytes: 43 characters. The gateway reads a
// Bearer credential starting with lgo_ as an organization token, so such a
// key is drawn again.
export function newStreamKey() {
  for (;;) {
    const key = randomBase64url(32);
    if (!key.startsWith('lgo_')) return key;
  }
}

// signJWT returns an HS256 JWT of claims signed with secret (its UTF-8
// bytes, as the gateway takes it).
export async function signJWT(secret, claims) {
  const head = base64url(utf8.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' })));
  const body = base64url(utf8.encode(JSON.stringify(claims)));
  const key = await crypto.subtle.importKey('raw', utf8.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const sig = await crypto.subtle.sign('HMAC', key, utf8.encode(`${head}.${body}`));
  return `${head}.${body}.${base64url(new Uint8Array(sig))}`;
}

// aliasToken signs a token for alias: a host's when host is true, a
// viewer's otherwise, valid for lifetime seconds from now.
export function aliasToken(alias, { userID, host, lifetime }) {
  const iat = Math.floor(Date.now() / 1000);
  return signJWT(alias.jwt_secret, { alias: alias.id, user_id: userID, host, iat, exp: iat + lifetime });
}

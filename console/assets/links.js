// The links the console hands out, made from the operator's templates
// (settings.json). A template holds {id}, {key}, {passcode} and {token};
// each is filled in URL-escaped. A relative template is taken from this
// page's origin.

const PLACEHOLDER = /\{(id|key|passcode|token)\}/g;

// fill returns template with values filled in, or null when it needs a
// value that is missing (an alias without a stream key has no RTMP URL).
export function fill(template, values) {
  if (!template) return null;
  let missing = false;
  const out = template.replace(PLACEHOLDER, (_, name) => {
    const v = values[name];
    if (!v) {
      missing = true;
      return '';
    }
    return encodeURIComponent(v);
  });
  if (missing) return null;
  return out.startsWith('/') ? location.origin + out : out;
}

// withCredential is fill, with the credential name=value added: in its
// placeholder when the template has one, else as a query parameter (the
// gateway reads ?passcode= and ?token=).
export function withCredential(template, values, name, value) {
  if (!template || !value) return null;
  if (template.includes(`{${name}}`)) {
    return fill(template, { ...values, [name]: value });
  }
  const base = fill(template, values);
  if (base === null) return null;
  const hash = base.indexOf('#');
  const [head, tail] = hash < 0 ? [base, ''] : [base.slice(0, hash), base.slice(hash)];
  return `${head}${head.includes('?') ? '&' : '?'}${name}=${encodeURIComponent(value)}${tail}`;
}

// Times as people read them: relative ("in 3 hours", "expired 2 days ago")
// with the absolute time beside it.

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'always' });
const absolute = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short' });

const UNITS = [
  ['year', 365 * 86400],
  ['month', 30 * 86400],
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

// relativeTime says how far unix (seconds) is from now, in the largest
// unit of which it is at least two (or one, for minutes and seconds), so
// that "in 36 hours" reads as such rather than "in 1 day".
export function relativeTime(unix, now = Date.now() / 1000) {
  const diff = unix - now;
  const abs = Math.abs(diff);
  for (const [unit, secs] of UNITS) {
    if (abs >= 2 * secs || (secs <= 60 && abs >= secs)) {
      return relative.format(Math.trunc(diff / secs), unit);
    }
  }
  return relative.format(Math.trunc(diff), 'second');
}

export function absoluteTime(unix) {
  return absolute.format(new Date(unix * 1000));
}

export function isExpired(alias, now = Date.now() / 1000) {
  return alias.expired_at <= now;
}

// expiryElement is a <time> that says when alias expires, relative, with
// the absolute time as its datetime and title.
export function expiryElement(alias) {
  return timeElement(alias.expired_at, { expiry: true });
}

// timeElement is a <time> that says how far unix is from now ("in 3
// hours", "2 minutes ago"; an expiry past says "expired 2 minutes ago"),
// with the absolute time as its datetime and title.
export function timeElement(unix, { expiry = false } = {}) {
  const t = document.createElement('time');
  t.dateTime = new Date(unix * 1000).toISOString();
  t.title = absoluteTime(unix);
  t.dataset.unix = String(unix);
  if (expiry) t.dataset.expiry = '';
  refreshTime(t);
  return t;
}

// refreshTime renews the relative text of a <time> made by timeElement or
// expiryElement.
export function refreshTime(t) {
  const unix = Number(t.dataset.unix);
  const rel = relativeTime(unix);
  t.textContent = 'expiry' in t.dataset && unix <= Date.now() / 1000 ? `expired ${rel}` : rel;
}

// toLocalInput and fromLocalInput convert between unix seconds and the
// value of an <input type="datetime-local" step="1"> in local time.
export function toLocalInput(unix) {
  const d = new Date(unix * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fromLocalInput(value) {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? NaN : Math.floor(ms / 1000);
}

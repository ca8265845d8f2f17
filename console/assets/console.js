// The console's page: sign-in, the alias list, the create/edit form, the
// share view and the sessions view, one at a time, chosen by the URL's
// fragment (#/, #/new, #/edit/<id>, #/share/<id>, #/sessions/<id>). The
// organization token lives in this tab's sessionStorage and nowhere else.

import * as api from './api.js';
import { $, announce, clearFieldError, el, setFieldError, showError } from './dom.js';
import { aliasToken, newJWTSecret, newStreamKey } from './secrets.js';
import { fill, withCredential } from './links.js';
import { absoluteTime, expiryElement, fromLocalInput, isExpired, refreshTime, toLocalInput } from './time.js';
import { startPreview, stopPreview } from './preview.js';
import { forgetSessions, setupSessions, showSessions } from './sessions.js';

const TOKEN_KEY = 'linkgate-console-token';
const FIELDS = ['type', 'name', 'passcode', 'jwt_secret', 'stream_key', 'expired_at'];
const SECRET_FIELDS = ['passcode', 'jwt_secret', 'stream_key'];
const LIFETIMES = [
  [15 * 60, '15 minutes'],
  [3600, '1 hour'],
  [12 * 3600, '12 hours'],
  [24 * 3600, '24 hours'],
];
// How long a replaced JWT secret may stay valid (jwt_secret_grace).
const GRACES = [
  [0, 'No time: it stops at once'],
  [10 * 60, '10 minutes'],
  [3600, '1 hour'],
  [24 * 3600, '24 hours'],
];

let settings = null;
// The list as loaded so far; gen tells a page that arrives after the
// filter changed from one that still belongs.
const list = { type: '', after: null, aliases: [], gen: 0 };
// The alias the edit form or the share view shows (null: a new one).
let current = null;

const token = () => sessionStorage.getItem(TOKEN_KEY);

function flash(text) {
  $('flash').textContent = text;
}

// show makes view the one visible and moves focus to its heading, so that
// keyboard and screen reader users start at its top.
function show(view, title) {
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== view;
  document.title = `${title} · linkgate console`;
  const heading = $(view).querySelector('h1');
  heading.focus();
}

// ---- routing

async function route() {
  stopPreview($('preview'));
  $('preview').hidden = true;
  const hash = location.hash.replace(/^#/, '') || '/';
  if (!token()) {
    showSignIn();
    return;
  }
  $('sign-out').hidden = false;
  let m;
  if (hash === '/') return showList();
  if (hash === '/new') return showEdit(null);
  if ((m = hash.match(/^\/edit\/([^/]+)$/))) return showEdit(decodeURIComponent(m[1]));
  if ((m = hash.match(/^\/share\/([^/]+)$/))) return showShare(decodeURIComponent(m[1]));
  if ((m = hash.match(/^\/sessions\/([^/]+)$/))) return showSessions(decodeURIComponent(m[1]));
  location.replace('#/');
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

// ---- sign-in and sign-out

function showSignIn() {
  $('sign-out').hidden = true;
  show('view-signin', 'Sign in');
}

async function signIn(ev) {
  ev.preventDefault();
  const input = $('token');
  const value = input.value.trim();
  clearFieldError(input);
  flash('');
  if (!value) {
    setFieldError(input, 'Enter your organization token.');
    input.focus();
    return;
  }
  const button = ev.submitter || $('signin-form').querySelector('button');
  button.disabled = true;
  try {
    await api.listAliases(value, { limit: 1 });
  } catch (err) {
    setFieldError(input, err.message);
    input.focus();
    return;
  } finally {
    button.disabled = false;
  }
  sessionStorage.setItem(TOKEN_KEY, value);
  input.value = '';
  announce('Signed in.');
  route();
}

function forget() {
  sessionStorage.removeItem(TOKEN_KEY);
  list.aliases = [];
  list.after = null;
  list.gen++;
  current = null;
  $('aliases').replaceChildren();
  for (const id of ['viewer-links', 'signed-links', 'ingest-links']) $(id).replaceChildren();
  forgetSessions();
  for (const f of FIELDS) $(`f-${f}`).value = '';
}

function signOut() {
  forget();
  flash('Signed out. The token is forgotten in this tab.');
  go('#/');
}

// handleFailure deals with a refusal that ends the session (the token was
// revoked meanwhile): back to sign-in with the API's words. It returns
// whether it did.
function handleFailure(err) {
  if (err.status !== 401) return false;
  forget();
  go('#/');
  setFieldError($('token'), `${err.message} Sign in again.`);
  return true;
}

// ---- the list

async function showList() {
  show('view-list', 'Aliases');
  $('type-filter').value = list.type;
  await reloadList();
}

async function reloadList() {
  list.aliases = [];
  list.after = null;
  $('aliases').replaceChildren();
  await loadPage();
}

async function loadPage() {
  const gen = ++list.gen;
  const more = $('load-more');
  more.disabled = true;
  $('list-status').textContent = 'Loading…';
  showError($('list-error'), '');
  let page;
  try {
    page = await api.listAliases(token(), { type: list.type, after: list.after, limit: settings.page_size });
  } catch (err) {
    if (gen !== list.gen) return;
    more.disabled = false;
    $('list-status').textContent = '';
    if (!handleFailure(err)) showError($('list-error'), err.message);
    return;
  }
  if (gen !== list.gen) return;
  const first = list.aliases.length;
  list.aliases.push(...page.entries);
  list.after = page.after;
  more.disabled = false;
  renderList();
  // Load more disappears with the last page: focus would fall to the
  // page's top, so it goes to the first alias that came in.
  if (first > 0 && document.activeElement !== more) {
    const heading = $('aliases').querySelector(`[data-index="${first}"] h2`);
    if (heading) heading.focus();
  }
}

function renderList() {
  const q = $('search').value.trim().toLowerCase();
  const items = [];
  list.aliases.forEach((a, i) => {
    if (!q || (a.name || '').toLowerCase().includes(q) || a.id.includes(q)) items.push(aliasItem(a, i));
  });
  $('aliases').replaceChildren(...items);
  $('load-more').hidden = !list.after;
  const n = list.aliases.length;
  let status = n === 0 ? 'No aliases yet.' : `${n} ${n === 1 ? 'alias' : 'aliases'} loaded`;
  if (n > 0 && q) status += `, ${items.length} matching “${$('search').value.trim()}”`;
  if (n > 0) status += list.after ? '; more to load.' : '.';
  $('list-status').textContent = status;
}

function typeLabel(type) {
  return type === 'live' ? 'Live stream' : type === 'conference' ? 'Conference room' : type;
}

function aliasLabel(a) {
  return a.name || `Unnamed ${a.type === 'live' ? 'live stream' : 'conference room'}`;
}

function protection(a) {
  const parts = [];
  if (a.passcode) parts.push('passcode');
  if (a.jwt_secret) parts.push('JWT secret');
  if (a.stream_key) parts.push('stream key');
  return parts.length ? parts.join(', ') : 'none: anyone may view';
}

function aliasItem(a, index) {
  const expired = isExpired(a);
  const label = aliasLabel(a);
  const expiry = el('dd', {}, expiryElement(a));
  if (expired) expiry.append(' ', el('span', { className: 'badge', text: 'Expired' }));
  return el('li', { className: expired ? 'alias expired' : 'alias', 'data-index': String(index), 'data-id': a.id },
    el('h2', { tabindex: '-1', text: label }),
    el('dl', {},
      el('dt', { text: 'ID' }), el('dd', {}, el('code', { text: a.id })),
      el('dt', { text: 'Type' }), el('dd', { text: typeLabel(a.type) }),
      el('dt', { text: expired ? 'Expired' : 'Expires' }), expiry,
      el('dt', { text: 'Protection' }), el('dd', { text: protection(a) })),
    el('div', { className: 'actions' },
      el('a', { className: 'button primary', href: `#/share/${encodeURIComponent(a.id)}` }, 'Share', el('span', { className: 'visually-hidden', text: ` ${label}` })),
      el('a', { className: 'button', href: `#/edit/${encodeURIComponent(a.id)}` }, 'Edit', el('span', { className: 'visually-hidden', text: ` ${label}` })),
      el('a', { className: 'button', href: `#/sessions/${encodeURIComponent(a.id)}` }, 'Sessions', el('span', { className: 'visually-hidden', text: ` of ${label}` }))));
}

// ---- create and edit

function resetReveal(root) {
  for (const b of root.querySelectorAll('button.reveal')) {
    const input = $(b.getAttribute('aria-controls'));
    input.type = 'password';
    b.firstChild.textContent = 'Show';
  }
}

async function showEdit(id) {
  const form = $('edit-form');
  for (const f of FIELDS) clearFieldError($(`f-${f}`));
  clearFieldError($('f-jwt_secret_grace'));
  showError($('form-error'), '');
  resetReveal(form);
  current = null;
  if (id) {
    try {
      current = await api.getAlias(token(), id);
    } catch (err) {
      if (handleFailure(err)) return;
      show('view-edit', 'Edit alias');
      $('edit-title').textContent = 'Edit alias';
      showError($('form-error'), err.message);
      form.hidden = true;
      $('delete-zone').hidden = true;
      return;
    }
  }
  form.hidden = false;
  const a = current || {
    type: 'live', name: null, passcode: null, jwt_secret: null, stream_key: null,
    expired_at: Math.ceil(Date.now() / 60000) * 60 + 86400,
  };
  $('f-type').value = a.type;
  $('f-name').value = a.name || '';
  for (const f of SECRET_FIELDS) $(`f-${f}`).value = a[f] || '';
  $('f-expired_at').value = toLocalInput(a.expired_at);
  $('f-expired_at-hint').textContent = `Your local time (${Intl.DateTimeFormat().resolvedOptions().timeZone}).`;
  $('f-jwt_secret_grace').value = '0';
  showGrace();
  $('edit-id-line').hidden = !current;
  $('edit-id').textContent = current ? current.id : '';
  $('edit-sessions').hidden = !current;
  if (current) $('edit-sessions').href = `#/sessions/${encodeURIComponent(current.id)}`;
  $('delete-zone').hidden = !current;
  $('save').textContent = current ? 'Save changes' : 'Create alias';
  const title = current ? `Edit “${aliasLabel(current)}”` : 'New alias';
  show('view-edit', current ? 'Edit alias' : 'New alias');
  $('edit-title').textContent = title;
}

// replacesSecret tells whether the form would give the alias a new JWT
// secret in place of one it has: only then can the old one be kept valid
// for a while.
function replacesSecret() {
  const value = $('f-jwt_secret').value;
  return Boolean(current && current.jwt_secret && value && value !== current.jwt_secret);
}

function showGrace() {
  const shown = replacesSecret();
  if (!shown) clearFieldError($('f-jwt_secret_grace'));
  $('grace-field').hidden = !shown;
}

// changes returns what the form would send: on create every field filled
// in; on update only those that differ from the alias, null for one
// emptied, and the grace of a replaced JWT secret.
function changes() {
  const body = {};
  for (const f of FIELDS) {
    const raw = $(`f-${f}`).value;
    const value = f === 'expired_at' ? fromLocalInput(raw) : (raw === '' ? null : raw);
    if (!current) {
      if (value !== null) body[f] = value;
    } else if (value !== current[f]) {
      body[f] = value;
    }
  }
  if (replacesSecret()) body.jwt_secret_grace = Number($('f-jwt_secret_grace').value);
  return body;
}

async function save(ev) {
  ev.preventDefault();
  for (const f of FIELDS) clearFieldError($(`f-${f}`));
  clearFieldError($('f-jwt_secret_grace'));
  showError($('form-error'), '');
  const body = changes();
  if (current && Object.keys(body).length === 0) {
    showError($('form-error'), 'Nothing to save: no field was changed.');
    return;
  }
  const button = $('save');
  button.disabled = true;
  let saved;
  try {
    saved = current ? await api.updateAlias(token(), current.id, body) : await api.createAlias(token(), body);
  } catch (err) {
    if (handleFailure(err)) return;
    const input = err.field && document.querySelector(`#edit-form [data-field="${CSS.escape(err.field)}"]`);
    if (input) {
      setFieldError(input, err.message);
      input.focus();
    } else {
      showError($('form-error'), err.message);
      $('form-error').focus();
    }
    return;
  } finally {
    button.disabled = false;
  }
  if (current) {
    flash(`Saved the changes to “${aliasLabel(saved)}”.`);
    go('#/');
  } else {
    flash(`Created “${aliasLabel(saved)}”. Share it:`);
    go(`#/share/${encodeURIComponent(saved.id)}`);
  }
}

function generate(kind) {
  const input = $(`f-${kind}`);
  input.value = kind === 'jwt_secret' ? newJWTSecret() : newStreamKey();
  clearFieldError(input);
  showGrace();
  announce(kind === 'jwt_secret' ? 'A new JWT secret is in the field.' : 'A new stream key is in the field.');
}

function askDelete() {
  showError($('delete-error'), '');
  $('confirm-text').textContent = `“${aliasLabel(current)}” (${current.id}) and every link and session of it stop working at once. This cannot be undone.`;
  $('confirm-delete').showModal();
  $('confirm-keep').focus();
}

async function confirmDelete() {
  const button = $('confirm-yes');
  button.disabled = true;
  try {
    await api.deleteAlias(token(), current.id);
  } catch (err) {
    if (err.status === 401) $('confirm-delete').close();
    if (handleFailure(err)) return;
    showError($('delete-error'), err.message);
    return;
  } finally {
    button.disabled = false;
  }
  $('confirm-delete').close();
  flash(`Deleted “${aliasLabel(current)}”.`);
  go('#/');
}

// ---- sharing

// linkRow adds a labelled, read-only field with a copy button to box.
// A secret one is hidden until revealed.
function linkRow(box, { id, label, value, secret = false, hint = '' }) {
  const input = el('input', { id, type: secret ? 'password' : 'text', readonly: true, spellcheck: 'false', autocomplete: 'off', 'aria-describedby': hint ? `${id}-hint` : null });
  input.value = value;
  const row = el('div', { className: 'copy-row' }, input);
  if (secret) row.append(el('button', { type: 'button', className: 'reveal', 'aria-controls': id }, 'Show', el('span', { className: 'visually-hidden', text: ` ${label}` })));
  row.append(el('button', { type: 'button', className: 'copy', 'aria-controls': id, 'data-label': label }, 'Copy', el('span', { className: 'visually-hidden', text: ` ${label}` })));
  const field = el('div', { className: 'field' }, el('label', { for: id, text: label }), row);
  if (hint) field.append(el('p', { id: `${id}-hint`, className: 'hint', text: hint }));
  box.append(field);
  return field;
}

function noteRow(box, text) {
  box.append(el('p', { className: 'hint', text }));
}

async function showShare(id) {
  try {
    current = await api.getAlias(token(), id);
  } catch (err) {
    if (handleFailure(err)) return;
    flash(`That alias cannot be shown: ${err.message}`);
    go('#/');
    return;
  }
  const a = current;
  const label = aliasLabel(a);
  show('view-share', `Share ${label}`);
  $('share-title').textContent = `Share “${label}”`;
  $('share-edit').href = `#/edit/${encodeURIComponent(a.id)}`;
  $('share-sessions').href = `#/sessions/${encodeURIComponent(a.id)}`;
  $('share-summary').replaceChildren(`${typeLabel(a.type)} `, el('code', { text: a.id }), `; ${isExpired(a) ? '' : 'expires '}`, expiryElement(a), ` (${absoluteTime(a.expired_at)}).`);
  $('share-expired').hidden = !isExpired(a);

  const tmpl = a.type === 'live' ? settings.viewer_url : settings.room_url;
  const values = { id: a.id, key: a.stream_key };
  const viewer = $('viewer-links');
  viewer.replaceChildren();
  const plain = fill(tmpl, values);
  if (plain) {
    const what = a.passcode ? 'Viewer link (asks for the passcode)' : a.jwt_secret ? 'Viewer link (needs a signed link)' : 'Viewer link';
    linkRow(viewer, { id: 'link-viewer', label: what, value: plain });
  }
  const withPasscode = withCredential(tmpl, values, 'passcode', a.passcode);
  if (withPasscode) {
    linkRow(viewer, { id: 'link-viewer-passcode', label: 'Viewer link with the passcode', value: withPasscode, secret: true, hint: 'Opens without asking: share it only with those who may watch.' });
  }
  if (!tmpl) noteRow(viewer, 'The operator has configured no viewer link for this type of alias.');
  viewer.closest('section').hidden = !tmpl;

  const signable = Boolean(a.jwt_secret && tmpl);
  $('signed-section').hidden = !signable;
  $('signed-links').replaceChildren();
  $('make-host-link').disabled = !window.isSecureContext;
  $('make-viewer-jwt-link').disabled = !window.isSecureContext;
  clearFieldError($('jwt-user'));

  const ingest = $('ingest-links');
  ingest.replaceChildren();
  if (a.type === 'live') {
    const whip = fill(settings.whip_url, values);
    if (whip) linkRow(ingest, { id: 'link-whip', label: 'WHIP URL', value: whip, hint: 'Publishers send the stream key as Bearer token (or a host link’s token).' });
    if (a.stream_key) linkRow(ingest, { id: 'link-stream-key', label: 'Stream key', value: a.stream_key, secret: true });
    const rtmp = fill(settings.rtmp_url, values);
    if (rtmp) linkRow(ingest, { id: 'link-rtmp', label: 'RTMP URL', value: rtmp, secret: settings.rtmp_url.includes('{key}') });
    const srt = fill(settings.srt_url, values);
    if (srt) linkRow(ingest, { id: 'link-srt', label: 'SRT URL', value: srt, secret: settings.srt_url.includes('{key}') });
    if (!a.stream_key && (settings.rtmp_url || settings.srt_url || settings.whip_url)) {
      noteRow(ingest, 'This alias has no stream key: give it one (Edit) to let publishers push with it.');
    }
  }
  $('ingest-section').hidden = ingest.childElementCount === 0;

  $('preview-section').hidden = !(a.type === 'live' && settings.preview_url);
  $('preview-start').hidden = false;
  $('preview-stop').hidden = true;
  $('preview-status').textContent = '';
  $('preview-start').disabled = Boolean(a.jwt_secret) && !window.isSecureContext;
}

// lifetimeOptions offers the link lifetimes and secret graces the gateway
// accepts: none longer than its max_token_lifetime.
function lifetimeOptions() {
  const select = $('jwt-lifetime');
  const options = LIFETIMES.filter(([secs]) => secs <= settings.max_token_lifetime);
  select.replaceChildren(...options.map(([secs, text]) => el('option', { value: String(secs), text })));
  select.value = options.some(([secs]) => secs === 3600) ? '3600' : String(options[0][0]);
  const graces = GRACES.filter(([secs]) => secs <= settings.max_token_lifetime);
  $('f-jwt_secret_grace').replaceChildren(...graces.map(([secs, text]) => el('option', { value: String(secs), text })));
}

async function makeSignedLink(host) {
  const a = current;
  const user = $('jwt-user');
  clearFieldError(user);
  const userID = user.value.trim();
  if (!userID) {
    setFieldError(user, 'Enter the user ID the link is for.');
    user.focus();
    return;
  }
  const lifetime = Number($('jwt-lifetime').value);
  const jwt = await aliasToken(a, { userID, host, lifetime });
  const tmpl = a.type === 'live' ? settings.viewer_url : settings.room_url;
  const url = withCredential(tmpl, { id: a.id, key: a.stream_key }, 'token', jwt);
  const id = host ? 'link-host' : 'link-viewer-jwt';
  const until = absoluteTime(Math.floor(Date.now() / 1000) + lifetime);
  const label = host ? `Host link for ${userID}` : `Signed viewer link for ${userID}`;
  const old = $(id);
  if (old) old.closest('.field').remove();
  const field = linkRow($('signed-links'), { id, label, value: url, hint: `Valid until ${until}.` });
  field.querySelector('input').focus();
  announce(`${label} created, valid until ${until}.`);
}

async function preview() {
  const a = current;
  const values = { id: a.id, key: a.stream_key };
  let url;
  if (a.jwt_secret) {
    const lifetime = Math.min(3600, settings.max_token_lifetime);
    url = withCredential(settings.preview_url, values, 'token', await aliasToken(a, { userID: 'console-preview', host: true, lifetime }));
  } else if (a.passcode) {
    url = withCredential(settings.preview_url, values, 'passcode', a.passcode);
  } else {
    url = fill(settings.preview_url, values);
  }
  const status = $('preview-status');
  $('preview-start').hidden = true;
  $('preview-stop').hidden = false;
  $('preview-stop').focus();
  await startPreview($('preview'), url, (text, failed) => {
    status.textContent = text;
    if (failed) {
      $('preview-start').hidden = false;
      $('preview-stop').hidden = true;
    }
  });
}

function endPreview() {
  stopPreview($('preview'));
  $('preview').hidden = true;
  $('preview-status').textContent = 'Preview stopped.';
  $('preview-start').hidden = false;
  $('preview-stop').hidden = true;
  $('preview-start').focus();
}

// ---- reveal and copy, for every secret field and link

function toggleReveal(button) {
  const input = $(button.getAttribute('aria-controls'));
  const reveal = input.type === 'password';
  input.type = reveal ? 'text' : 'password';
  button.firstChild.textContent = reveal ? 'Hide' : 'Show';
}

async function copy(button) {
  const input = $(button.getAttribute('aria-controls'));
  const label = button.dataset.label;
  try {
    if (!navigator.clipboard) throw new Error('no clipboard');
    await navigator.clipboard.writeText(input.value);
    button.firstChild.textContent = 'Copied';
    setTimeout(() => { button.firstChild.textContent = 'Copy'; }, 2000);
    announce(`Copied: ${label}.`);
  } catch {
    // No clipboard (not HTTPS, or refused): select the text for the
    // keyboard's copy; a password field's text cannot be copied, so it
    // is revealed first.
    if (input.type === 'password') {
      const reveal = input.parentElement.querySelector('button.reveal');
      if (reveal) toggleReveal(reveal);
    }
    input.focus();
    input.select();
    announce(`Selected: ${label}. Press Control+C (Command+C on a Mac) to copy it.`);
  }
}

// ---- start

async function main() {
  $('insecure').hidden = window.isSecureContext;
  const resp = await fetch('settings.json', { credentials: 'omit' });
  settings = await resp.json();
  lifetimeOptions();

  $('signin-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', signOut);
  $('type-filter').addEventListener('change', () => {
    list.type = $('type-filter').value;
    reloadList();
  });
  $('search').addEventListener('input', renderList);
  $('load-more').addEventListener('click', loadPage);
  $('edit-form').addEventListener('submit', save);
  $('f-jwt_secret').addEventListener('input', showGrace);
  $('delete').addEventListener('click', askDelete);
  $('confirm-keep').addEventListener('click', () => $('confirm-delete').close());
  $('confirm-yes').addEventListener('click', confirmDelete);
  $('make-host-link').addEventListener('click', () => makeSignedLink(true));
  $('make-viewer-jwt-link').addEventListener('click', () => makeSignedLink(false));
  $('preview-start').addEventListener('click', preview);
  $('preview-stop').addEventListener('click', endPreview);
  setupSessions({ token, show, handleFailure, aliasLabel });
  document.addEventListener('click', (ev) => {
    const button = ev.target.closest('button');
    if (!button) return;
    if (button.classList.contains('reveal')) toggleReveal(button);
    else if (button.classList.contains('copy')) copy(button);
    else if (button.classList.contains('generate')) generate(button.dataset.kind);
  });
  window.addEventListener('hashchange', () => {
    flashOnce();
    route();
  });
  setInterval(() => document.querySelectorAll('time[data-unix]').forEach(refreshTime), 30000);
  route();
}

// A flash message belongs to the one navigation it reports on.
let flashed = '';
function flashOnce() {
  const text = $('flash').textContent;
  if (text && text === flashed) flash('');
  flashed = $('flash').textContent;
}

main();

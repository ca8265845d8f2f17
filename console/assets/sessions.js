// The sessions view of an alias (#/sessions/<id>): the revocations in
// force and the JWT secrets that verify links, as the API lists them, and
// the forms that remove one participant, one signed link, or everyone.
// Everything it shows of the alias's sessions is the API's last answer.

import * as api from './api.js';
import { $, clearFieldError, el, setFieldError, showError } from './dom.js';
import { absoluteTime, timeElement } from './time.js';

// page is what the console's main module lends this view: the token, the
// view switch and its handling of a token refused meanwhile.
let page = null;
// The alias shown, as retrieve answered it.
let shown = null;

// setupSessions wires the view's forms; page has token(), show(view,
// title), handleFailure(err) and aliasLabel(alias).
export function setupSessions(p) {
  page = p;
  $('revoke-user-form').addEventListener('submit', (ev) => revokeFrom(ev, $('revoke-user'), 'user_id',
    'Enter the user ID of the participant to remove.'));
  $('revoke-jti-form').addEventListener('submit', (ev) => revokeFrom(ev, $('revoke-jti'), 'jti',
    'Enter the token ID (jti) of the link to revoke.'));
  $('end-all').addEventListener('click', askEndAll);
  $('end-all-keep').addEventListener('click', () => $('confirm-end-all').close());
  $('end-all-yes').addEventListener('click', endAll);
}

// forgetSessions empties the view of everything it showed, as signing out
// does for every view.
export function forgetSessions() {
  shown = null;
  for (const input of [$('revoke-user'), $('revoke-jti')]) {
    input.value = '';
    clearFieldError(input);
  }
  for (const id of ['revoke-done', 'end-all-done', 'sessions-summary', 'revocations-status', 'secrets-status']) $(id).textContent = '';
  $('revocations').replaceChildren();
  $('secrets').replaceChildren();
}

export async function showSessions(id) {
  forgetSessions();
  showError($('sessions-error'), '');
  $('sessions-share').href = `#/share/${encodeURIComponent(id)}`;
  $('sessions-edit').href = `#/edit/${encodeURIComponent(id)}`;
  let a, inForce;
  try {
    [a, inForce] = await Promise.all([api.getAlias(page.token(), id), api.listRevocations(page.token(), id)]);
  } catch (err) {
    if (page.handleFailure(err)) return;
    page.show('view-sessions', 'Sessions');
    $('sessions-title').textContent = 'Sessions';
    showError($('sessions-error'), err.message);
    $('sessions-body').hidden = true;
    return;
  }
  shown = a;
  const label = page.aliasLabel(a);
  $('sessions-body').hidden = false;
  $('sessions-summary').replaceChildren('Alias ', el('code', { text: a.id }),
    '. Who may no longer enter, and the secrets that verify signed links, as the API reports them now.');
  render(inForce);
  page.show('view-sessions', `Sessions of ${label}`);
  $('sessions-title').textContent = `Sessions of “${label}”`;
}

// render shows what the API says is in force.
function render(inForce) {
  const revocations = inForce.revocations.map(revocationItem);
  $('revocations').replaceChildren(...revocations);
  const n = revocations.length;
  $('revocations-status').textContent = n === 0
    ? 'None: every valid link, passcode and stream key is let in.'
    : `${n} ${n === 1 ? 'revocation' : 'revocations'} in force, oldest first.`;
  const secrets = inForce.jwt_secrets.map(secretItem);
  $('secrets').replaceChildren(...secrets);
  $('secrets-status').textContent = secrets.length === 0 ? 'None: this alias has no JWT secret, so no signed link opens it.' : '';
}

function revocationItem(r) {
  let what;
  if (r.user_id !== undefined) {
    what = el('p', { className: 'what' }, 'User ', el('code', { text: r.user_id }));
  } else if (r.jti !== undefined) {
    what = el('p', { className: 'what' }, 'Signed link with token ID ', el('code', { text: r.jti }));
  } else {
    what = el('p', { className: 'what' }, 'Every link and session from before ', timeElement(r.before),
      ` (${absoluteTime(r.before)})`);
  }
  return el('li', { className: 'record' }, what,
    el('dl', {},
      el('dt', { text: 'Since' }), el('dd', {}, timeElement(r.created_at)),
      el('dt', { text: 'Until' }), el('dd', {}, timeElement(r.expires_at))));
}

function secretItem(s) {
  const dl = el('dl', {}, el('dt', { text: 'Status' }), el('dd', { text: s.current ? 'Current' : 'Replaced' }));
  if (s.until !== undefined) {
    dl.append(el('dt', { text: 'Verifies until' }), el('dd', {}, timeElement(s.until), ` (${absoluteTime(s.until)})`));
  }
  return el('li', { className: 'record', 'data-kid': s.kid }, el('p', { className: 'what' }, 'Key ID ', el('code', { text: s.kid })), dl);
}

// revokeFrom sends the value of input as the revocation's key (user_id or
// jti). Whatever the API refuses is shown beside input: it is the one
// thing the request held.
async function revokeFrom(ev, input, key, empty) {
  ev.preventDefault();
  clearFieldError(input);
  $('revoke-done').textContent = '';
  $('end-all-done').textContent = '';
  const value = input.value.trim();
  if (!value) {
    setFieldError(input, empty);
    input.focus();
    return;
  }
  const button = ev.submitter || ev.target.querySelector('button[type="submit"]');
  button.disabled = true;
  let inForce;
  try {
    inForce = await api.revoke(page.token(), shown.id, { [key]: value });
  } catch (err) {
    if (page.handleFailure(err)) return;
    setFieldError(input, err.message);
    input.focus();
    return;
  } finally {
    button.disabled = false;
  }
  render(inForce);
  input.value = '';
  const r = inForce.revocations.find((x) => x[key] === value);
  const who = key === 'user_id' ? `User ${value} is removed` : `The link with token ID ${value} is revoked`;
  const done = r ? `${who} until ${absoluteTime(r.expires_at)}.` : `${who}.`;
  $('revoke-done').textContent = done;
}

function askEndAll() {
  showError($('end-all-error'), '');
  $('end-all-done').textContent = '';
  $('end-all-confirm-text').textContent = `Everyone in “${page.aliasLabel(shown)}” must present their credential again. ` +
    'Links signed before now stop working for good, so hand out new ones; whoever typed the passcode types it again; ' +
    'open players and connections are closed within a second. The passcode, JWT secret and stream key stay as they are.';
  $('confirm-end-all').showModal();
  $('end-all-keep').focus();
}

async function endAll() {
  const button = $('end-all-yes');
  button.disabled = true;
  let inForce;
  try {
    inForce = await api.revoke(page.token(), shown.id, { before: Math.floor(Date.now() / 1000) });
  } catch (err) {
    if (err.status === 401) $('confirm-end-all').close();
    if (page.handleFailure(err)) return;
    showError($('end-all-error'), err.message);
    return;
  } finally {
    button.disabled = false;
  }
  $('confirm-end-all').close();
  render(inForce);
  const r = inForce.revocations.find((x) => x.before !== undefined);
  const done = r ? `Every session from before ${absoluteTime(r.before)} is ended.` : 'Every session is ended.';
  $('end-all-done').textContent = done;
  $('end-all').focus();
}

// Small DOM helpers every view of the console uses: elements built with
// text (never parsed HTML), announcements for screen readers, and errors
// shown beside the field they concern.

export const $ = (id) => document.getElementById(id);

// el makes an element with attributes and children; text is set as text,
// never parsed as HTML.
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'className') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...children);
  return e;
}

export function announce(text) {
  // Emptied first, so that the same text twice is announced twice.
  $('announce').textContent = '';
  requestAnimationFrame(() => { $('announce').textContent = text; });
}

// Field errors: the message beside the field, tied to it by
// aria-describedby and aria-invalid.
export function setFieldError(input, message) {
  const err = $(`${input.id}-error`);
  err.textContent = message;
  err.hidden = false;
  input.setAttribute('aria-invalid', 'true');
  const ids = (input.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
  if (!ids.includes(err.id)) ids.push(err.id);
  input.setAttribute('aria-describedby', ids.join(' '));
}

export function clearFieldError(input) {
  const err = $(`${input.id}-error`);
  err.textContent = '';
  err.hidden = true;
  input.removeAttribute('aria-invalid');
  const ids = (input.getAttribute('aria-describedby') || '').split(/\s+/).filter((id) => id && id !== err.id);
  if (ids.length) input.setAttribute('aria-describedby', ids.join(' '));
  else input.removeAttribute('aria-describedby');
}

export function showError(p, message) {
  p.textContent = message;
  p.hidden = !message;
}

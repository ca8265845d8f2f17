package gate

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
)

// The passcode page: what a browser gets on a passcode-protected alias
// without a credential. Self-contained (no scripts, fonts or images), so the
// Content-Security-Policy can forbid everything but its one style sheet and
// posting the form back to the same URL.
const pageStyle = `body{font-family:system-ui,sans-serif;background:#111;color:#eee;display:flex;min-height:100vh;margin:0;align-items:center;justify-content:center}
main{background:#1d1d1f;padding:2rem;border-radius:.75rem;max-width:22rem;width:100%}
h1{font-size:1.25rem;margin:0 0 1rem}
label{display:block;margin-bottom:.5rem}
input{box-sizing:border-box;width:100%;padding:.6rem;font-size:1rem;border-radius:.4rem;border:1px solid #888;background:#fff;color:#000}
button{margin-top:1rem;width:100%;padding:.6rem;font-size:1rem;border:0;border-radius:.4rem;background:#3b82f6;color:#fff;cursor:pointer}
input:focus,button:focus{outline:3px solid #fbbf24;outline-offset:2px}
p[role=alert]{color:#fca5a5}`

var pageCSP = "default-src 'none'; style-src 'sha256-" + styleHash() + "'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func styleHash() string {
	sum := sha256.Sum256([]byte(pageStyle))
	return base64.StdEncoding.EncodeToString(sum[:])
}

const pageTemplate = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Passcode required</title>
<style>` + pageStyle + `</style>
</head>
<body>
<main>
<h1>This stream needs a passcode</h1>
<form method="post">
<label for="passcode">Passcode</label>
<input id="passcode" name="` + formPasscode + `" type="password" autocomplete="current-password" required autofocus{{describedby}}>
{{error}}<button type="submit">Open</button>
</form>
</main>
</body>
</html>
`

// pageNotice is what the passcode page tells about the last attempt.
type pageNotice uint8

const (
	noticeNone pageNotice = iota
	noticeWrong
	noticeThrottled
)

var pages = [...]string{
	noticeNone:      renderPage("", ""),
	noticeWrong:     renderPage("true", "That passcode is not right. Try again."),
	noticeThrottled: renderPage("", "Too many wrong passcodes from your network. Wait a minute, then try again."),
}

func renderPage(invalid, notice string) string {
	describedBy, errorText := "", ""
	if notice != "" {
		describedBy = ` aria-describedby="passcode-error"`
		if invalid != "" {
			describedBy = ` aria-invalid="true"` + describedBy
		}
		errorText = `<p id="passcode-error" role="alert">` + notice + "</p>\n"
	}
	return strings.NewReplacer("{{describedby}}", describedBy, "{{error}}", errorText).Replace(pageTemplate)
}

// writePasscodePage answers with the passcode page and a notice about the
// last attempt.
func writePasscodePage(w http.ResponseWriter, status int, notice pageNotice) {
	page := pages[notice]
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("WWW-Authenticate", `Bearer realm="linkgate"`)
	h.Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(status)
	w.Write([]byte(page))
}

package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"

	"github.com/linkgate/linkgate/internal/testcaddy"
)

const (
	tokenKey     = "linkgate-console-token" // where the page keeps the token
	passcode     = "open-sesame-4711"
	hostUser     = "stage-host"
	badToken     = "lgo_thisisnotarealtoken"
	shortCode    = "abc"
	elsewhereKey = "changed-elsewhere"
)

// TestConsole is an organizer's session in a real Chromium against the
// built binary: sign in, create an alias (first with a passcode the API
// refuses), share it (viewer, passcode, host and viewer-JWT links, the
// ingest settings, the preview of a real HLS stream), find it in the list,
// edit it, delete it, sign out. axe-core checks every screen, and the
// organization token must never be in a cookie or a URL.
func TestConsole(t *testing.T) {
	chromium := require(t, "Chromium", "LINKGATE_CHROMIUM", "/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
	ffmpeg := require(t, "ffmpeg", "LINKGATE_FFMPEG", "/usr/bin/ffmpeg", "ffmpeg")
	g := startGateway(t)
	ctx, events := newBrowser(t, chromium, g.base)
	consoleURL := g.base + "/console/"

	t.Log("the sign-in page")
	resp := run(t, ctx, "open the console", chromedp.NavigateResponse(consoleURL))
	if resp.Status != http.StatusOK {
		t.Fatalf("GET %s: %d", consoleURL, resp.Status)
	}
	if csp := header(resp.Headers, "Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("console Content-Security-Policy %q, want a strict one", csp)
	}
	waitFor(t, ctx, "the sign-in form", `document.activeElement && document.activeElement.id === 'signin-title'`)
	if got := run(t, ctx, "read the title", chromedp.Title()); got != "Sign in · linkgate console" {
		t.Errorf("title %q", got)
	}
	wantAccessible(t, ctx, "sign-in page")
	screenshot(t, ctx, "console-signin-desktop")
	atPhoneWidth(t, ctx, "sign-in page", "console-signin-phone")

	t.Log("a bad token, by keyboard")
	do(t, ctx, "tab to the token field", chromedp.KeyEvent("\t"))
	if id := eval[string](t, ctx, "read the focus", `document.activeElement.id`); id != "token" {
		t.Fatalf("Tab from the heading focuses #%s, want the token field", id)
	}
	if outline := eval[string](t, ctx, "read the focus ring", `getComputedStyle(document.activeElement).outlineStyle`); outline == "none" {
		t.Error("the focused token field shows no outline")
	}
	do(t, ctx, "type a bad token and press Enter", chromedp.KeyEvent(badToken), chromedp.KeyEvent("\r"))
	wantDetail, _ := g.apiError(t, http.MethodGet, "/organization/api/v1/aliases?limit=1", badToken, "")
	waitFor(t, ctx, "the token error", `!document.getElementById('token-error').hidden`)
	if got := text(t, ctx, "#token-error"); got != wantDetail {
		t.Errorf("token error %q, want the API's %q", got, wantDetail)
	}
	wantDescribedBy(t, ctx, "token", "token-error")
	wantAccessible(t, ctx, "sign-in page with an error")
	events.wantNoProblems(t, "sign-in with a bad token", "status of 401")

	t.Log("sign in")
	do(t, ctx, "type the token", setValue("token", ""), chromedp.SendKeys(chromedp.ID("token"), g.token),
		chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)))
	waitFor(t, ctx, "the alias list", `!document.getElementById('view-list').hidden && document.getElementById('list-status').textContent === 'No aliases yet.'`)
	if got := eval[string](t, ctx, "read sessionStorage", fmt.Sprintf(`sessionStorage.getItem(%q)`, tokenKey)); got != g.token {
		t.Errorf("sessionStorage holds %q, want the token", got)
	}
	if n := eval[int](t, ctx, "read localStorage", `localStorage.length`); n != 0 {
		t.Errorf("localStorage holds %d items, want none", n)
	}
	if got := eval[string](t, ctx, "read the token field", `document.getElementById('token').value`); got != "" {
		t.Error("the token field still holds the token after signing in")
	}
	wantAccessible(t, ctx, "empty alias list")

	t.Log("create an alias: a passcode the API refuses, then a good one")
	do(t, ctx, "open the new alias form", chromedp.Click(chromedp.CSS(`#view-list a[href="#/new"]`)))
	waitFor(t, ctx, "the new alias form", `document.getElementById('edit-title').textContent === 'New alias'`)
	do(t, ctx, "fill in the form",
		chromedp.SendKeys(chromedp.ID("f-name"), "Launch"),
		chromedp.SendKeys(chromedp.ID("f-passcode"), shortCode),
		chromedp.Click(chromedp.CSS(`button.generate[data-kind="jwt_secret"]`)),
		chromedp.Click(chromedp.CSS(`button.generate[data-kind="stream_key"]`)))
	secret := run(t, ctx, "read the JWT secret", chromedp.Value(chromedp.ID("f-jwt_secret")))
	streamKey := run(t, ctx, "read the stream key", chromedp.Value(chromedp.ID("f-stream_key")))
	base64url := regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	if len(secret) < 32 || !base64url.MatchString(secret) {
		t.Errorf("generated JWT secret %q: want at least 32 bytes of base64url", secret)
	}
	if len(streamKey) < 32 || !base64url.MatchString(streamKey) || strings.HasPrefix(streamKey, "lgo_") {
		t.Errorf("generated stream key %q: want at least 32 base64url characters, not starting with lgo_", streamKey)
	}
	for _, id := range []string{"f-passcode", "f-jwt_secret", "f-stream_key"} {
		if typ := attr(t, ctx, "#"+id, "type"); typ != "password" {
			t.Errorf("#%s is shown (type %q) before it was revealed", id, typ)
		}
	}
	do(t, ctx, "reveal the passcode", chromedp.Click(chromedp.CSS(`button.reveal[aria-controls="f-passcode"]`)))
	if typ := attr(t, ctx, "#f-passcode", "type"); typ != "text" {
		t.Errorf("after Show the passcode field has type %q, want text", typ)
	}
	do(t, ctx, "hide the passcode", chromedp.Click(chromedp.CSS(`button.reveal[aria-controls="f-passcode"]`)))

	do(t, ctx, "save", chromedp.Click(chromedp.ID("save")))
	waitFor(t, ctx, "the passcode error", `!document.getElementById('f-passcode-error').hidden`)
	future := time.Now().Add(time.Hour).Unix()
	wantDetail, wantField := g.apiError(t, http.MethodPost, "/organization/api/v1/alias/create", g.token,
		fmt.Sprintf(`{"type":"live","passcode":%q,"expired_at":%d}`, shortCode, future))
	if wantField != "passcode" {
		t.Fatalf("the API names field %q for a short passcode, want passcode", wantField)
	}
	if got := text(t, ctx, "#f-passcode-error"); got != wantDetail {
		t.Errorf("passcode error %q, want the API's %q", got, wantDetail)
	}
	wantDescribedBy(t, ctx, "f-passcode", "f-passcode-error")
	if id := eval[string](t, ctx, "read the focus", `document.activeElement.id`); id != "f-passcode" {
		t.Errorf("after the refusal #%s has the focus, want the passcode field", id)
	}
	if n := len(g.aliases(t)); n != 0 {
		t.Errorf("a refused create left %d aliases", n)
	}
	wantAccessible(t, ctx, "edit form with an error")
	screenshot(t, ctx, "console-edit-desktop")
	atPhoneWidth(t, ctx, "edit form", "console-edit-phone")
	events.wantNoProblems(t, "create with a short passcode", "status of 400")

	do(t, ctx, "fix the passcode and save",
		setValue("f-passcode", ""),
		chromedp.SendKeys(chromedp.ID("f-passcode"), passcode),
		chromedp.Click(chromedp.ID("save")))
	waitFor(t, ctx, "the share view", `document.getElementById('share-title').textContent === 'Share “Launch”' && !document.getElementById('view-share').hidden`)
	all := g.aliases(t)
	if len(all) != 1 {
		t.Fatalf("after creating, the API lists %d aliases, want 1", len(all))
	}
	a := all[0]
	if a.Type != "live" || deref(a.Name) != "Launch" || deref(a.Passcode) != passcode || deref(a.JWTSecret) != secret || deref(a.StreamKey) != streamKey {
		t.Errorf("created alias %+v, want a live Launch with the passcode, the JWT secret and stream key generated", a)
	}
	if d := time.Until(time.Unix(a.ExpiredAt, 0)); d < 23*time.Hour || d > 25*time.Hour {
		t.Errorf("created alias expires in %v, want the form's default of about a day", d)
	}
	id := a.ID
	feed := feedHLS(t, ffmpeg, filepath.Join(g.hlsRoot, "hls", id))

	t.Log("share: the viewer links")
	liveURL := g.base + "/live/" + id + "/index.m3u8"
	if got := run(t, ctx, "read the viewer link", chromedp.Value(chromedp.ID("link-viewer"))); got != liveURL {
		t.Errorf("viewer link %q, want %q", got, liveURL)
	}
	if typ := attr(t, ctx, "#link-viewer-passcode", "type"); typ != "password" {
		t.Errorf("the viewer link with the passcode is shown (type %q) before it was revealed", typ)
	}
	if got := run(t, ctx, "read the link with the passcode", chromedp.Value(chromedp.ID("link-viewer-passcode"))); got != liveURL+"?passcode="+url.QueryEscape(passcode) {
		t.Errorf("viewer link with the passcode %q", got)
	}
	do(t, ctx, "copy the viewer link", chromedp.Click(chromedp.CSS(`button.copy[aria-controls="link-viewer"]`)))
	waitFor(t, ctx, "the copy confirmation", `document.querySelector('button.copy[aria-controls="link-viewer"]').textContent.startsWith('Copied')`)
	copied := eval[string](t, ctx, "read the clipboard", `navigator.clipboard.readText()`)
	if copied != liveURL {
		t.Fatalf("the clipboard holds %q, want the viewer link %q", copied, liveURL)
	}
	body := openInNewTab(t, ctx, copied, passcode)
	wantDemo(t, body, id, "viewer", "")

	t.Log("copying without the clipboard: the link is revealed and selected")
	setClipboardPermission(t, ctx, g.base, browser.PermissionSettingDenied)
	do(t, ctx, "copy the link with the passcode", chromedp.Click(chromedp.CSS(`button.copy[aria-controls="link-viewer-passcode"]`)))
	waitFor(t, ctx, "the link revealed, selected, and how to copy it announced", `(() => {
		const e = document.getElementById('link-viewer-passcode');
		return document.activeElement === e && e.type === 'text' && e.selectionStart === 0 && e.selectionEnd === e.value.length &&
			document.getElementById('announce').textContent.includes('Press Control+C');
	})()`)

	t.Log("share: signed links")
	if got := eval[string](t, ctx, "read the lifetimes", `[...document.querySelectorAll('#jwt-lifetime option')].map(o => o.textContent).join('|')`); got != "15 minutes|1 hour|12 hours|24 hours" {
		t.Errorf("lifetimes offered %q", got)
	}
	do(t, ctx, "make a 15-minute host link",
		setValue("jwt-user", ""),
		chromedp.SendKeys(chromedp.ID("jwt-user"), hostUser),
		setValue("jwt-lifetime", "900"),
		chromedp.Click(chromedp.ID("make-host-link")))
	waitFor(t, ctx, "the host link", `document.getElementById('link-host') !== null`)
	hostLink := run(t, ctx, "read the host link", chromedp.Value(chromedp.ID("link-host")))
	wantSigned(t, hostLink, liveURL, id, secret, true, 15*time.Minute)
	wantDemo(t, openInNewTab(t, ctx, hostLink, ""), id, "host", hostUser)

	do(t, ctx, "make a 24-hour host link", setValue("jwt-lifetime", "86400"), chromedp.Click(chromedp.ID("make-host-link")))
	waitFor(t, ctx, "the new host link", fmt.Sprintf(`document.getElementById('link-host').value !== %q`, hostLink))
	dayLink := run(t, ctx, "read the host link", chromedp.Value(chromedp.ID("link-host")))
	wantSigned(t, dayLink, liveURL, id, secret, true, 24*time.Hour)
	status, body := get(t, dayLink, nil)
	if status != http.StatusOK {
		t.Errorf("the gateway refuses the 24-hour host link: %d %s", status, body)
	}
	wantDemo(t, body, id, "host", hostUser)

	do(t, ctx, "make a viewer link", chromedp.Click(chromedp.ID("make-viewer-jwt-link")))
	waitFor(t, ctx, "the signed viewer link", `document.getElementById('link-viewer-jwt') !== null`)
	viewerLink := run(t, ctx, "read the signed viewer link", chromedp.Value(chromedp.ID("link-viewer-jwt")))
	wantSigned(t, viewerLink, liveURL, id, secret, false, 24*time.Hour)
	_, body = get(t, viewerLink, nil)
	wantDemo(t, body, id, "viewer", hostUser)

	t.Log("share: ingest")
	whip := run(t, ctx, "read the WHIP URL", chromedp.Value(chromedp.ID("link-whip")))
	if whip != g.base+"/live/"+id+"/whip" {
		t.Errorf("WHIP URL %q", whip)
	}
	_, body = get(t, whip, http.Header{"Authorization": {"Bearer " + streamKey}})
	wantDemo(t, body, id, "publisher", "")
	for sel, want := range map[string]string{
		"link-stream-key": streamKey,
		"link-rtmp":       "rtmp://media.example.com/ingest/" + streamKey,
		"link-srt":        "srt://media.example.com:8890?streamid=publish:live/" + id + ":x:" + streamKey,
	} {
		if got := run(t, ctx, "read #"+sel, chromedp.Value(chromedp.ID(sel))); got != want {
			t.Errorf("#%s %q, want %q", sel, got, want)
		}
		if typ := attr(t, ctx, "#"+sel, "type"); typ != "password" {
			t.Errorf("#%s holds the stream key in sight (type %q) before it was revealed", sel, typ)
		}
	}
	wantAccessible(t, ctx, "share view")
	screenshot(t, ctx, "console-share-desktop")
	atPhoneWidth(t, ctx, "share view", "console-share-phone")
	events.wantNoProblems(t, "share view")

	t.Log("the preview")
	feed.waitSegments(t, 3)
	do(t, ctx, "start the preview", chromedp.Click(chromedp.ID("preview-start")))
	waitFor(t, ctx, "the preview playing", `(() => { const v = document.getElementById('preview'); return v.readyState >= 3 && v.currentTime > 0; })()`)
	if got := text(t, ctx, "#preview-status"); got != "Playing." {
		t.Errorf("preview status %q, want Playing.", got)
	}
	var playlist, segments, worker int
	for _, u := range events.urls() {
		switch {
		// The transmuxer runs in the console's own worker file, which the
		// CSP allows without blob: workers.
		case strings.HasSuffix(u, "/console/hls.worker.js"):
			worker++
		case strings.Contains(u, "/hls/"+id+"/index.m3u8?token="):
			playlist++
		case strings.Contains(u, "/hls/"+id+"/") && strings.Contains(u, ".ts"):
			segments++
			if strings.Contains(u, "token=") {
				t.Errorf("a segment request carries the token: %s", u)
			}
		}
	}
	if playlist == 0 || segments == 0 || worker == 0 {
		t.Errorf("the preview requested the playlist with a token %d times, %d segments and its worker %d times; want each", playlist, segments, worker)
	}
	do(t, ctx, "stop the preview", chromedp.Click(chromedp.ID("preview-stop")))
	events.wantNoProblems(t, "preview")

	t.Log("the list: paging, expiry, search, filter")
	room := g.create(t, fmt.Sprintf(`{"type":"conference","name":"Team room","expired_at":%d}`, time.Now().Add(72*time.Hour).Unix()))
	soon := time.Now().Add(2 * time.Second).Unix()
	over := g.create(t, fmt.Sprintf(`{"type":"live","name":"Rehearsal","expired_at":%d}`, soon))
	g.create(t, fmt.Sprintf(`{"type":"live","name":"Backup feed","passcode":"backup-pass","expired_at":%d}`, time.Now().Add(3*time.Hour).Unix()))
	testcaddy.PollUntil(t, 10*time.Second, "Rehearsal expires", func() bool { return time.Now().Unix() > soon })

	do(t, ctx, "back to the list", chromedp.Click(chromedp.CSS(`#view-share .crumbs a[href="#/"]`)))
	waitFor(t, ctx, "the first page", `document.getElementById('list-status').textContent === '2 aliases loaded; more to load.'`)
	if got := listedIDs(t, ctx); !slices.Equal(got, []string{id, room.ID}) {
		t.Errorf("first page %v, want %v", got, []string{id, room.ID})
	}
	do(t, ctx, "load more", chromedp.Click(chromedp.ID("load-more")))
	waitFor(t, ctx, "the second page", `document.getElementById('list-status').textContent === '4 aliases loaded.' && document.getElementById('load-more').hidden`)
	expiredItem := fmt.Sprintf(`#aliases li[data-id=%q]`, over.ID)
	if got := text(t, ctx, expiredItem+" .badge"); got != "Expired" {
		t.Errorf("the expired alias's badge says %q, want Expired", got)
	}
	if got := text(t, ctx, expiredItem+" time"); !regexp.MustCompile(`^expired \d+ seconds? ago$`).MatchString(got) {
		t.Errorf("the expired alias's expiry reads %q, want expired … ago", got)
	}
	if got := attr(t, ctx, expiredItem+" time", "datetime"); got != time.Unix(over.ExpiredAt, 0).UTC().Format("2006-01-02T15:04:05.000Z") {
		t.Errorf("the expired alias's <time datetime> %q, want %s", got, time.Unix(over.ExpiredAt, 0).UTC())
	}
	if got := attr(t, ctx, expiredItem+" time", "title"); got == "" {
		t.Error("the expired alias's time has no title with the absolute time")
	}
	if got := text(t, ctx, fmt.Sprintf(`#aliases li[data-id=%q] time`, id)); !regexp.MustCompile(`^in 2[34] hours$`).MatchString(got) {
		t.Errorf("Launch's expiry reads %q, want in 23 or 24 hours", got)
	}
	if got := text(t, ctx, fmt.Sprintf(`#aliases li[data-id=%q] time`, room.ID)); !regexp.MustCompile(`^in [23] days$`).MatchString(got) {
		t.Errorf("Team room's expiry reads %q, want in 2 or 3 days", got)
	}
	wantAccessible(t, ctx, "alias list")
	screenshot(t, ctx, "console-list-desktop")
	atPhoneWidth(t, ctx, "alias list", "console-list-phone")

	do(t, ctx, "search for launch", chromedp.SendKeys(chromedp.ID("search"), "launch"))
	if got := listedIDs(t, ctx); !slices.Equal(got, []string{id}) {
		t.Errorf("searching launch lists %v, want only Launch", got)
	}
	do(t, ctx, "clear the search", setValue("search", ""))
	do(t, ctx, "show conferences only", setValue("type-filter", "conference"))
	waitFor(t, ctx, "the conference list", `document.getElementById('list-status').textContent === '1 alias loaded.'`)
	if got := listedIDs(t, ctx); !slices.Equal(got, []string{room.ID}) {
		t.Errorf("the conference filter lists %v, want only Team room", got)
	}
	do(t, ctx, "show all types", setValue("type-filter", ""))
	waitFor(t, ctx, "the whole list", `document.getElementById('list-status').textContent === '2 aliases loaded; more to load.'`)

	t.Log("edit: only what changed is sent")
	do(t, ctx, "edit Launch", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#aliases li[data-id=%q] a[href^="#/edit/"]`, id))))
	waitFor(t, ctx, "the edit form", `document.getElementById('edit-title').textContent === 'Edit “Launch”'`)
	if got := run(t, ctx, "read the form's passcode", chromedp.Value(chromedp.ID("f-passcode"))); got != passcode {
		t.Errorf("the edit form shows passcode %q, want the alias's", got)
	}
	// Meanwhile someone else changes the passcode: a form that sent every
	// field would put the old one back.
	if status, b := g.api(t, http.MethodPost, "/organization/api/v1/alias/update/"+id, fmt.Sprintf(`{"passcode":%q}`, elsewhereKey)); status != http.StatusOK {
		t.Fatalf("changing the passcode through the API: %d %s", status, b)
	}
	do(t, ctx, "rename, clear the stream key, save",
		setValue("f-name", ""),
		chromedp.SendKeys(chromedp.ID("f-name"), "Launch day"),
		setValue("f-stream_key", ""),
		chromedp.Click(chromedp.ID("save")))
	waitFor(t, ctx, "back on the list", `document.getElementById('flash').textContent === 'Saved the changes to “Launch day”.' && !document.getElementById('view-list').hidden`)
	for _, x := range g.aliases(t) {
		if x.ID != id {
			continue
		}
		if deref(x.Name) != "Launch day" || x.StreamKey != nil || deref(x.Passcode) != elsewhereKey || deref(x.JWTSecret) != secret {
			t.Errorf("after the edit the alias has name %q, stream key %q, passcode %q, secret changed %v: want %q, none, %q, false",
				deref(x.Name), deref(x.StreamKey), deref(x.Passcode), deref(x.JWTSecret) != secret, "Launch day", elsewhereKey)
		}
	}

	t.Log("delete, with confirmation")
	do(t, ctx, "edit Launch day", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#aliases li[data-id=%q] a[href^="#/edit/"]`, id))))
	waitFor(t, ctx, "the edit form", `document.getElementById('edit-title').textContent === 'Edit “Launch day”'`)
	do(t, ctx, "ask to delete", chromedp.Click(chromedp.ID("delete")))
	waitFor(t, ctx, "the confirmation", `document.getElementById('confirm-delete').open && document.activeElement.id === 'confirm-keep'`)
	wantAccessible(t, ctx, "delete confirmation")
	do(t, ctx, "keep it", chromedp.Click(chromedp.ID("confirm-keep")))
	waitFor(t, ctx, "the confirmation closed", `!document.getElementById('confirm-delete').open`)
	if !hasAlias(g.aliases(t), id) {
		t.Fatal("Keep it deleted the alias")
	}
	do(t, ctx, "ask again and confirm", chromedp.Click(chromedp.ID("delete")), chromedp.Click(chromedp.ID("confirm-yes")))
	waitFor(t, ctx, "back on the list", `document.getElementById('flash').textContent === 'Deleted “Launch day”.' && !document.getElementById('view-list').hidden`)
	if hasAlias(g.aliases(t), id) {
		t.Error("the confirmed delete left the alias")
	}
	events.wantNoProblems(t, "list, edit and delete")

	t.Log("the token: in sessionStorage only")
	for _, u := range events.urls() {
		if strings.Contains(u, g.token) || strings.Contains(u, url.QueryEscape(g.token)) {
			t.Errorf("the browser sent the organization token in a URL: %s", u)
		}
	}
	cookies, err := chromedp.Call(ctx, storage.GetCookies, storage.GetCookiesParams{})
	if err != nil {
		t.Fatalf("reading the cookies: %v", err)
	}
	for _, c := range cookies.Cookies {
		if strings.Contains(c.Value, g.token) || strings.Contains(c.Name, g.token) {
			t.Errorf("cookie %s holds the organization token", c.Name)
		}
	}

	t.Log("sign out")
	do(t, ctx, "sign out", chromedp.Click(chromedp.ID("sign-out")))
	waitFor(t, ctx, "the sign-in page", `!document.getElementById('view-signin').hidden`)
	if got := eval[bool](t, ctx, "read sessionStorage", fmt.Sprintf(`sessionStorage.getItem(%q) === null`, tokenKey)); !got {
		t.Error("signing out left the token in sessionStorage")
	}
	events.wantNoProblems(t, "sign-out")

	t.Log("a token revoked while signed in ends the session")
	do(t, ctx, "sign in again", chromedp.SendKeys(chromedp.ID("token"), g.token), chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)))
	waitFor(t, ctx, "the alias list", `!document.getElementById('view-list').hidden && document.getElementById('list-status').textContent.endsWith('loaded; more to load.')`)
	g.revokeTokens(t)
	// The gateway's token cache hears of the revocation from the database
	// within about a second.
	testcaddy.PollUntil(t, 10*time.Second, "the API refuses the revoked token", func() bool {
		status, _ := g.api(t, http.MethodGet, "/organization/api/v1/aliases?limit=1", "")
		return status == http.StatusUnauthorized
	})
	wantDetail, _ = g.apiError(t, http.MethodGet, "/organization/api/v1/aliases?limit=1", g.token, "")
	do(t, ctx, "show live aliases only", setValue("type-filter", "live"))
	waitFor(t, ctx, "the sign-in page after the revocation", `!document.getElementById('view-signin').hidden`)
	if got := text(t, ctx, "#token-error"); got != wantDetail+" Sign in again." {
		t.Errorf("after the revocation the sign-in page says %q, want the API's %q and Sign in again.", got, wantDetail)
	}
	if got := eval[bool](t, ctx, "read sessionStorage", fmt.Sprintf(`sessionStorage.getItem(%q) === null`, tokenKey)); !got {
		t.Error("a refused token stayed in sessionStorage")
	}
	if n := eval[int](t, ctx, "count the aliases still shown", `document.querySelectorAll('#aliases li').length`); n != 0 {
		t.Errorf("after the session ended the page still holds %d aliases", n)
	}
	events.wantNoProblems(t, "revoked token", "status of 401")
}

// openInNewTab opens link in a new tab with cookies of its own, as the
// viewer or host it is for would in their browser. (The gateway checks a
// session cookie before a token, so a host link opened beside a viewer's
// cookie for the same alias would be a viewer.) With a passcode it expects
// the gateway's passcode page first and answers it. It returns the text
// the tab ends on.
func openInNewTab(t *testing.T, ctx context.Context, link, code string) string {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	// The first action opens the tab and ties it to the context it runs
	// with, so it must not be a step's short-lived one.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	resp := run(t, tab, "open "+link, chromedp.NavigateResponse(link))
	if code != "" {
		if resp.Status != http.StatusUnauthorized {
			t.Errorf("opening %s: %d, want the passcode page's 401", link, resp.Status)
		}
		if title := run(t, tab, "read the title", chromedp.Title()); title != "Passcode required" {
			t.Fatalf("opening %s: page %q, want the passcode page", link, title)
		}
		do(t, tab, "answer the passcode page", chromedp.SendKeys(chromedp.ID("passcode"), code))
		ctx, cancel := context.WithTimeout(tab, stepTimeout)
		defer cancel()
		if resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[type="submit"]`))); err != nil || resp.Status != http.StatusOK {
			t.Fatalf("submitting the passcode: %v %v", resp, err)
		}
	} else if resp.Status != http.StatusOK {
		t.Errorf("opening %s: %d, want 200", link, resp.Status)
	}
	return run(t, tab, "read the page", chromedp.Evaluate[string](`document.body.innerText`))
}

// wantDemo checks the demo backend's answer: the gateway let the request
// through for alias with role and user.
func wantDemo(t *testing.T, body, alias, role, user string) {
	t.Helper()
	for name, want := range map[string]string{"alias": alias, "role": role, "user": user} {
		re := regexp.MustCompile(`(?m)^\s*` + name + `:[ \t]*(\S*)[ \t]*$`)
		m := re.FindStringSubmatch(body)
		if m == nil || m[1] != want {
			t.Errorf("the demo backend says %s %v, want %q; its answer:\n%s", name, m, want, body)
		}
	}
}

// wantSigned checks a signed link: the page's URL with ?token=, an HS256
// JWT signed with secret with the claims the console promises.
func wantSigned(t *testing.T, link, page, alias, secret string, host bool, lifetime time.Duration) {
	t.Helper()
	jwt, ok := strings.CutPrefix(link, page+"?token=")
	if !ok {
		t.Fatalf("signed link %q is not %s?token=…", link, page)
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("signed link's token %q is not a JWT", jwt)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if sig, err := base64.RawURLEncoding.DecodeString(parts[2]); err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		t.Errorf("signed link's token is not signed with the alias's secret")
	}
	var head struct{ Alg, Typ string }
	var claims struct {
		Alias  string `json:"alias"`
		UserID string `json:"user_id"`
		Host   *bool  `json:"host"`
		IAT    int64  `json:"iat"`
		EXP    int64  `json:"exp"`
	}
	for i, v := range []any{&head, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(raw, v) != nil {
			t.Fatalf("signed link's token part %d is not base64url JSON: %q", i, parts[i])
		}
	}
	if head.Alg != "HS256" {
		t.Errorf("signed link's token alg %q, want HS256", head.Alg)
	}
	if claims.Alias != alias || claims.UserID != hostUser || claims.Host == nil || *claims.Host != host {
		t.Errorf("signed link's claims %+v, want alias %s, user_id %s, host %v", claims, alias, hostUser, host)
	}
	if d := time.Since(time.Unix(claims.IAT, 0)); d < -time.Minute || d > time.Minute {
		t.Errorf("signed link's iat is %v from now", d)
	}
	if got := time.Duration(claims.EXP-claims.IAT) * time.Second; got != lifetime {
		t.Errorf("signed link lives %v, want %v", got, lifetime)
	}
}

// wantDescribedBy checks that the field tells assistive technology about
// its error: aria-describedby names the error and aria-invalid is set.
func wantDescribedBy(t *testing.T, ctx context.Context, field, errorID string) {
	t.Helper()
	if ids := strings.Fields(attr(t, ctx, "#"+field, "aria-describedby")); !slices.Contains(ids, errorID) {
		t.Errorf("#%s aria-describedby %v, want it to name #%s", field, ids, errorID)
	}
	if got := attr(t, ctx, "#"+field, "aria-invalid"); got != "true" {
		t.Errorf("#%s aria-invalid %q, want true", field, got)
	}
}

// atPhoneWidth shows the page at 375x812, checks that nothing sticks out
// sideways, takes a screenshot and goes back to the desktop size.
func atPhoneWidth(t *testing.T, ctx context.Context, screen, name string) {
	t.Helper()
	do(t, ctx, "phone size", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
	waitFor(t, ctx, "the phone layout", `window.innerWidth === 375`)
	if w := eval[int](t, ctx, "read the page width", `document.documentElement.scrollWidth`); w > 375 {
		t.Errorf("%s at 375 px is %d px wide: it scrolls sideways", screen, w)
	}
	screenshot(t, ctx, name)
	do(t, ctx, "desktop size", chromedp.EmulateViewport(1280, 800))
}

// setValue sets a field's value as typing or choosing would, with the
// events that go with it.
func setValue(id, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const e = document.getElementById(%q);
		e.value = %q;
		e.dispatchEvent(new Event('input', {bubbles: true}));
		e.dispatchEvent(new Event('change', {bubbles: true}));
	})()`, id, value))
}

func listedIDs(t *testing.T, ctx context.Context) []string {
	t.Helper()
	var ids []string
	raw := eval[string](t, ctx, "read the list", `[...document.querySelectorAll('#aliases li')].map(li => li.dataset.id).join(' ')`)
	ids = append(ids, strings.Fields(raw)...)
	return ids
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return eval[string](t, ctx, "read "+sel, fmt.Sprintf(`document.querySelector(%q).textContent.trim()`, sel))
}

func attr(t *testing.T, ctx context.Context, sel, name string) string {
	t.Helper()
	return eval[string](t, ctx, "read "+sel+" "+name, fmt.Sprintf(`document.querySelector(%q).getAttribute(%q) || ''`, sel, name))
}

func header(h map[string]any, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func hasAlias(all []apiAlias, id string) bool {
	return slices.ContainsFunc(all, func(a apiAlias) bool { return a.ID == id })
}

// hlsFeed is ffmpeg making a live HLS stream of its test picture.
type hlsFeed struct {
	playlist string
}

// feedHLS starts ffmpeg writing a live HLS stream (H.264, one-second
// segments, in real time) into dir until the test ends.
func feedHLS(t *testing.T, ffmpeg, dir string) *hlsFeed {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := &hlsFeed{playlist: filepath.Join(dir, "index.m3u8")}
	var output testcaddy.Buffer
	cmd := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-g", "25",
		"-f", "hls", "-hls_time", "1", "-hls_list_size", "6", "-hls_flags", "delete_segments",
		"-t", "300", f.playlist)
	cmd.Stdout, cmd.Stderr = &output, &output
	testcaddy.DieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting ffmpeg: %v", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() && output.Len() > 0 {
			t.Logf("ffmpeg's output:\n%s", output.String())
		}
	})
	return f
}

// waitSegments waits until the playlist lists n segments.
func (f *hlsFeed) waitSegments(t *testing.T, n int) {
	t.Helper()
	testcaddy.PollUntil(t, 30*time.Second, fmt.Sprintf("ffmpeg has written %d segments", n), func() bool {
		b, err := os.ReadFile(f.playlist)
		return err == nil && strings.Count(string(b), "#EXTINF") >= n
	})
}

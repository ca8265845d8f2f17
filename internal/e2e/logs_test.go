package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"testing"
)

// TestNoSecretsInLogs covers decision 9: whatever clients send, right or
// wrong, Caddy's log (at DEBUG, the most it says) holds no passcode, JWT,
// stream key, organization token, session cookie or DSN.
func TestNoSecretsInLogs(t *testing.T) {
	g := newGateway(t, "")
	a := g.createAlias(t, specFull)
	conf := g.createAlias(t, specConference)
	viewer, host := a.viewerJWT(t, "ivy"), conf.hostJWT(t, "jack")
	badJWT := sign(t, a.JWTSecret+"-not", a.claims(nil))
	wrongPasscode := a.Passcode + "-typo"
	secrets := map[string]string{
		"passcode": a.Passcode, "wrong passcode": wrongPasscode, "JWT secret": a.JWTSecret,
		"stream key": a.StreamKey, "viewer JWT": viewer, "host JWT": host, "refused JWT": badJWT,
		"organization token": g.token, "foreign organization token": g.otherToken, "DSN": g.dsn,
	}

	seg := "/live/" + a.ID + "/index.m3u8"
	login := g.do(t, get(seg+"?passcode="+q(a.Passcode)))
	wantPassed(t, login, a, "viewer", "")
	secrets["session cookie"] = sessionCookie(t, login, a).Value
	for _, rq := range []request{
		get(seg, "X-Alias-Passcode", a.Passcode),
		get(seg + "?passcode=" + q(wrongPasscode)),
		get(seg, "X-Alias-Passcode", wrongPasscode),
		get(seg, "Authorization", "Bearer "+viewer),
		get(seg + "?token=" + viewer + "&x=1"),
		get(seg + "?jwt=" + badJWT),
		get(seg, "Authorization", "Bearer "+badJWT),
		get("/whip/"+a.ID, "Authorization", "Bearer "+a.StreamKey),
		get("/whip/"+a.ID, "Authorization", "Bearer "+a.StreamKey+"x"),
		get("/whip/"+a.ID, "Authorization", "Bearer "+g.token),
		get("/whip/"+a.ID, "Authorization", "Bearer "+g.otherToken),
		get("/host/" + conf.ID + "/rtc?access_token=" + host),
		get(seg, "Cookie", "lgs_"+a.ID+"="+secrets["session cookie"]),
		{method: http.MethodPost, path: seg, body: url.Values{"linkgate_passcode": {wrongPasscode}}.Encode(),
			header: []string{"Content-Type", "application/x-www-form-urlencoded"}},
		{method: http.MethodPost, path: seg, body: url.Values{"linkgate_passcode": {a.Passcode}}.Encode(),
			header: []string{"Content-Type", "application/x-www-form-urlencoded"}},
	} {
		g.do(t, rq)
	}
	for range 4 {
		g.do(t, get("/tight/"+a.ID+"/x?passcode="+q(wrongPasscode)))
	}
	g.do(t, get("/tight/"+a.ID+"/x?passcode="+q(a.Passcode)))

	t.Run("gateway", func(t *testing.T) {
		wantNoSecrets(t, g.logPath, secrets)
	})

	// The upstream is down: Caddy logs the failed request as the client
	// sent it, before the gateway stripped its credential.
	t.Run("upstream down", func(t *testing.T) {
		b := g.createAlias(t, specFull)
		down := map[string]string{"passcode": b.Passcode, "JWT": b.viewerJWT(t, "kim")}
		for _, rq := range []request{
			get("/dead/" + b.ID + "/index.m3u8?passcode=" + q(b.Passcode)),
			get("/dead/" + b.ID + "/index.m3u8?token=" + down["JWT"]),
			get("/dead/"+b.ID+"/index.m3u8", "X-Alias-Passcode", b.Passcode),
		} {
			if r := g.do(t, rq); r.status != http.StatusBadGateway {
				t.Fatalf("status %d, want 502 from a dead upstream", r.status)
			}
		}
		wantNoSecrets(t, g.logPath, down)
	})
}

// wantNoSecrets fails the test for every secret found in the log, naming
// the log entries that hold it.
func wantNoSecrets(t *testing.T, logPath string, secrets map[string]string) {
	t.Helper()
	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) == 0 {
		t.Fatal("Caddy's log is empty: the test would prove nothing")
	}
	for what, secret := range secrets {
		sc := bufio.NewScanner(bytes.NewReader(log))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if !bytes.Contains(sc.Bytes(), []byte(secret)) {
				continue
			}
			var entry struct{ Logger, Msg string }
			json.Unmarshal(sc.Bytes(), &entry)
			t.Errorf("the %s is in Caddy's log, entry %q/%q", what, entry.Logger, entry.Msg)
		}
	}
}

package caddymodule

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/spf13/cobra"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
)

func jwtCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "jwt", Short: "Signs and checks the JWTs that open an alias"}

	sign := withStore(&cobra.Command{
		Use:   "sign --alias ID [--host] [--user USER] [--ttl 1h]",
		Short: "Prints a JWT signed with the alias's jwt_secret",
		Long: `Prints an HS256 JWT signed with the alias's jwt_secret, with the claims
alias, user_id (when --user is given), host, iat and exp, on a line of its
own. The gateway admits its holder as a host (--host) or a viewer, until
exp or the alias's expiry, whichever comes first.

--ttl is a duration (90m, 12h, 1d) of at most the config's
max_token_lifetime (default 24h): the gateway refuses longer-lived tokens.`,
		Args: cobra.NoArgs,
	}, jwtSign)
	sign.Flags().String("alias", "", "The alias the token opens (required)")
	sign.Flags().Bool("host", false, "Make a host token (default: a viewer token)")
	sign.Flags().String("user", "", "The user_id claim, which the upstream gets as X-Linkgate-User")
	sign.Flags().String("ttl", "1h", "How long the token is valid, from now")
	sign.MarkFlagRequired("alias")

	check := withStore(&cobra.Command{
		Use:   "check TOKEN --alias ID [--json]",
		Short: "Says whether the gateway accepts a JWT for an alias, and if not, why",
		Long: `Checks TOKEN (or, for -, the token read from standard input) against the
alias with the gateway's own verifier and the config's jwt_leeway and
max_token_lifetime. Prints the role, user and expiry it grants; or the
reason the gateway refuses it, by the name its logs and metrics use
(token_expired, bad_signature, alias_mismatch, ...) and a sentence, and
exits with status 1.`,
		Args: cobra.ExactArgs(1),
	}, jwtCheck)
	check.Flags().String("alias", "", "The alias the token is presented to (required)")
	check.MarkFlagRequired("alias")
	addOutputFlags(check, "")

	cmd.AddCommand(sign, check)
	return cmd
}

// jwtAlias returns the alias a JWT command names.
func jwtAlias(ctx context.Context, cmd *cobra.Command, env *cliEnv) (alias.Alias, error) {
	id, _ := cmd.Flags().GetString("alias")
	a, err := env.store.Alias(ctx, id)
	if errors.Is(err, alias.ErrNotFound) {
		return a, fmt.Errorf("no alias %q", id)
	}
	return a, err
}

func (env *cliEnv) jwtVerifier() *gate.JWTVerifier {
	return gate.NewJWTVerifier(env.cfg.jwtLeeway, env.cfg.maxTokenLifetime, nil)
}

func jwtSign(ctx context.Context, cmd *cobra.Command, env *cliEnv, _ []string) error {
	flags := cmd.Flags()
	host, _ := flags.GetBool("host")
	user, _ := flags.GetString("user")
	ttlFlag, _ := flags.GetString("ttl")
	ttl, err := caddy.ParseDuration(ttlFlag)
	switch {
	case err != nil:
		return fmt.Errorf("--ttl %q: want a duration such as 90m, 12h or 1d", ttlFlag)
	case ttl < time.Second:
		return fmt.Errorf("--ttl %s: a token must be valid for a second at least", ttl)
	case ttl > env.cfg.maxTokenLifetime:
		return fmt.Errorf("--ttl %s is longer than the max_token_lifetime of %s: the gateway would refuse the token (lifetime_too_long); ask for less, or raise max_token_lifetime in the config",
			ttl, env.cfg.maxTokenLifetime)
	}
	a, err := jwtAlias(ctx, cmd, env)
	if err != nil {
		return err
	}
	now := time.Now()
	switch {
	case a.Expired(now):
		return fmt.Errorf("alias %s expired at %s: the gateway admits nobody to it", a.ID, formatTime(a.ExpiredAt))
	case a.JWTSecret == "":
		return fmt.Errorf("alias %s has no jwt_secret, so it accepts no JWT; give it one with caddy linkgate alias update %s --jwt-secret SECRET", a.ID, a.ID)
	}
	iat := now.Unix()
	claims := jwt.MapClaims{"alias": a.ID, "host": host, "iat": iat, "exp": iat + int64(ttl/time.Second)}
	if user != "" {
		claims["user_id"] = user
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(a.JWTSecret))
	if err != nil {
		return fmt.Errorf("signing the token: %w", err)
	}
	// The gateway's own verifier has the last word, on the user ID too.
	grant, reason := env.jwtVerifier().Verify(&a, token)
	if reason != 0 {
		return fmt.Errorf("the gateway would refuse this token: %s: %s", reason, explain(reason, &a, token, env.cfg, now))
	}
	fmt.Fprintln(cmd.OutOrStdout(), token)
	fmt.Fprintf(cmd.ErrOrStderr(), "linkgate: %s\n", describeGrant(grant, &a, now))
	return nil
}

// describeGrant says what a token admits to, and until when: the token's
// expiry or the alias's, whichever comes first.
func describeGrant(g alias.Grant, a *alias.Alias, now time.Time) string {
	user := "no user"
	if g.User != "" {
		user = fmt.Sprintf("user %q", g.User)
	}
	until := g.Expiry
	ends := ""
	if a.ExpiredAt.Before(until) {
		until, ends = a.ExpiredAt, ", when the alias expires"
	}
	return fmt.Sprintf("%s token for alias %s, %s, valid until %s%s", g.Role, a.ID, user, describeExpiry(until.Unix(), now), ends)
}

func jwtCheck(ctx context.Context, cmd *cobra.Command, env *cliEnv, args []string) error {
	token := args[0]
	if token == "-" {
		in, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 2*gate.MaxTokenSize))
		if err != nil {
			return fmt.Errorf("reading the token from standard input: %w", err)
		}
		token = strings.TrimSpace(string(in))
	}
	a, err := jwtAlias(ctx, cmd, env)
	if err != nil {
		return err
	}
	now := time.Now()
	out := cmd.OutOrStdout()
	refuse := func(reason gate.Reason, sentence string) error {
		if jsonFlag(cmd) {
			if err := printJSON(out, struct {
				Valid  bool   `json:"valid"`
				Reason string `json:"reason"`
				Detail string `json:"detail"`
			}{false, reason.String(), sentence}); err != nil {
				return err
			}
		}
		return fmt.Errorf("%s: %s", reason, sentence)
	}
	// The gateway finds the alias before it looks at a credential.
	if a.Expired(now) {
		return refuse(gate.ReasonExpired, fmt.Sprintf("alias %s expired at %s, and the gateway refuses every credential for it", a.ID, formatTime(a.ExpiredAt)))
	}
	grant, reason := env.jwtVerifier().Verify(&a, token)
	if reason != 0 {
		return refuse(reason, explain(reason, &a, token, env.cfg, now))
	}
	if jsonFlag(cmd) {
		var user *string
		if grant.User != "" {
			user = &grant.User
		}
		until := grant.Expiry
		if a.ExpiredAt.Before(until) {
			until = a.ExpiredAt
		}
		return printJSON(out, struct {
			Valid     bool    `json:"valid"`
			Role      string  `json:"role"`
			User      *string `json:"user_id"`
			ExpiresAt int64   `json:"expires_at"`
		}{true, grant.Role.String(), user, until.Unix()})
	}
	fmt.Fprintf(out, "valid: %s\n", describeGrant(grant, &a, now))
	return nil
}

// tokenClaims are the claims of a token that explain a refusal. They are
// read only to word the sentence: the verifier decided.
type tokenClaims struct {
	Alias     *string  `json:"alias"`
	Exp       *float64 `json:"exp"`
	Nbf       *float64 `json:"nbf"`
	Iat       *float64 `json:"iat"`
	ExpiresIn *float64 `json:"expires_in"`
}

// peekToken decodes a token's header and claims without checking
// anything; what does not decode stays empty.
func peekToken(token string) (alg string, c tokenClaims) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", c
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if raw, err := base64.RawURLEncoding.DecodeString(parts[0]); err == nil {
		json.Unmarshal(raw, &header)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
		json.Unmarshal(raw, &c)
	}
	return header.Alg, c
}

func unixTime(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9))
}

// expiry is when a token ends as the gateway counts it: the earlier of
// exp and expires_in, which from 10^9 up is a Unix time and below that a
// lifetime counted from iat.
func (c *tokenClaims) expiry() (time.Time, bool) {
	var end time.Time
	if c.Exp != nil {
		end = unixTime(*c.Exp)
	}
	if c.ExpiresIn != nil {
		var t time.Time
		switch {
		case *c.ExpiresIn >= 1e9:
			t = unixTime(*c.ExpiresIn)
		case c.Iat != nil:
			t = unixTime(*c.Iat).Add(time.Duration(*c.ExpiresIn * float64(time.Second)))
		}
		if !t.IsZero() && (end.IsZero() || t.Before(end)) {
			end = t
		}
	}
	return end, !end.IsZero()
}

// explain words why the gateway refuses token for a with reason, with the
// times and names the token holds, which its logs leave out.
func explain(reason gate.Reason, a *alias.Alias, token string, cfg cliConfig, now time.Time) string {
	alg, c := peekToken(token)
	skew := fmt.Sprintf(" (the gateway allows %s of clock skew)", cfg.jwtLeeway)
	switch reason {
	case gate.ReasonTokenTooLarge:
		return fmt.Sprintf("the token is %d bytes, over the %d a token may have", len(token), gate.MaxTokenSize)
	case gate.ReasonNoJWTSecret:
		return fmt.Sprintf("alias %s has no jwt_secret, so it accepts no JWT", a.ID)
	case gate.ReasonTokenMalformed:
		return "the token is not a JWT: three base64url segments without padding (header.payload.signature), the first two JSON objects"
	case gate.ReasonBadAlgorithm:
		return fmt.Sprintf("the token is signed with alg %q; only HS256 is accepted", alg)
	case gate.ReasonCritHeader:
		return `the token's header lists "crit" extensions, which linkgate does not implement and so must refuse`
	case gate.ReasonBadSignature:
		return fmt.Sprintf("the signature does not match alias %s's jwt_secret: the token was signed with another secret, or changed after signing", a.ID)
	case gate.ReasonBadClaims:
		return "a claim appears twice or has the wrong type: exp, nbf, iat and expires_in must be numbers (expires_in not negative), host a boolean, alias and user_id strings"
	case gate.ReasonBadUserID:
		return "the user_id claim holds control characters, which cannot be sent upstream in X-Linkgate-User"
	case gate.ReasonAliasMismatch:
		if c.Alias == nil {
			return fmt.Sprintf("the token has no alias claim; a token for alias %s needs \"alias\": %q", a.ID, a.ID)
		}
		return fmt.Sprintf("the token is for alias %q, not for %s", *c.Alias, a.ID)
	case gate.ReasonTokenExpired:
		if end, ok := c.expiry(); ok {
			return "the token expired at " + formatTime(end) + skew
		}
	case gate.ReasonTokenNotYetValid:
		if c.Nbf != nil {
			return "the token is not valid before " + formatTime(unixTime(*c.Nbf)) + " (its nbf)" + skew
		}
	case gate.ReasonIssuedInFuture:
		if c.Iat != nil {
			return fmt.Sprintf("the token says it was issued at %s (its iat), which is after now, %s%s", formatTime(unixTime(*c.Iat)), formatTime(now), skew)
		}
	case gate.ReasonNoExpiry:
		return "the token has neither exp nor expires_in, and a token must expire"
	case gate.ReasonExpiresInNeedsIAT:
		return "expires_in below 1000000000 is a lifetime in seconds counted from iat, and the token has no iat"
	case gate.ReasonLifetimeTooLong:
		if end, ok := c.expiry(); ok {
			start, from := now, "now"
			if c.Iat != nil {
				start, from = unixTime(*c.Iat), "its iat"
			}
			return fmt.Sprintf("the token is valid until %s, %s from %s, longer than the max_token_lifetime of %s",
				formatTime(end), end.Sub(start).Round(time.Second), from, cfg.maxTokenLifetime)
		}
	}
	return reason.Detail()
}

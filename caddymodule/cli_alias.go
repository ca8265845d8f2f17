package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/aliasapi"
	"github.com/linkgate/linkgate/gate"
)

// aliasCommand is "caddy linkgate alias". Its commands run each request
// through the alias API's own handler, as the organization --org names
// instead of a token, so that the validation, the error sentences and the
// JSON are the API's, byte for byte.
func aliasCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alias",
		Short: "Manages an organization's aliases through the alias API",
		Long: `Creates, lists, shows, updates and deletes the aliases of one
organization, through the alias API's own handler: the same validation,
the same error sentences, and with --json the API's response body exactly.

--org names the organization: its ID (org_...) or its exact name. It may
be left out when the database holds exactly one organization.`,
	}
	cmd.PersistentFlags().String("org", "", "The organization: its ID (org_...) or exact name (default: the only one)")

	create := withStore(&cobra.Command{
		Use:   "create --type live|conference --expires WHEN [flags]",
		Short: "Creates an alias",
		Args:  cobra.NoArgs,
	}, aliasCreate)
	addFieldFlags(create)
	addOutputFlags(create, "Print only the new alias's ID")

	update := withStore(&cobra.Command{
		Use:   "update ID [flags] [--clear FIELD,...]",
		Short: "Changes the fields given; --clear removes optional ones",
		Long: `Changes the fields given and keeps the others. --clear sets fields to
null: name, passcode, jwt_secret (or jwt-secret), stream_key (or
stream-key); the API refuses the others.`,
		Args: cobra.ExactArgs(1),
	}, aliasUpdate)
	addFieldFlags(update)
	update.Flags().StringSlice("clear", nil, "Fields to set to null, comma-separated: name, passcode, jwt_secret, stream_key")
	addOutputFlags(update, "")

	list := withStore(&cobra.Command{
		Use:   "list [--type T] [--limit N] [--after CURSOR | --all]",
		Short: "Lists the organization's aliases, oldest first, a page at a time",
		Long: `Lists the organization's aliases, oldest first, one page of --limit
(default 50, at most 500). When more follow, the text output ends with the
cursor of the next page, for --after; --all follows the cursors to the
end. With --json each page is printed as the API's response body, one a
line.`,
		Args: cobra.NoArgs,
	}, aliasList)
	list.Flags().String("type", "", "Only aliases of this type: live or conference")
	list.Flags().String("after", "", "The cursor of the page before, as the previous page gave it")
	list.Flags().Int("limit", aliasapi.DefaultListLimit, "Aliases per page, 1 to 500")
	list.Flags().Bool("all", false, "Follow the cursor to the last page")
	list.MarkFlagsMutuallyExclusive("after", "all")
	addOutputFlags(list, "")

	show := withStore(&cobra.Command{
		Use:   "show ID [--json]",
		Short: "Shows an alias as the API shows it to its organization, secrets included",
		Args:  cobra.ExactArgs(1),
	}, aliasShow)
	addOutputFlags(show, "")

	remove := withStore(&cobra.Command{
		Use:   "delete ID [--json]",
		Short: "Deletes an alias",
		Args:  cobra.ExactArgs(1),
	}, aliasDelete)
	addOutputFlags(remove, "")

	cmd.AddCommand(create, list, show, update, remove)
	return cmd
}

// fieldFlags are the flags that set an alias field, by the API's name of
// the field.
var fieldFlags = []struct{ flag, field, usage string }{
	{"type", "type", "live or conference"},
	{"name", "name", "A name for people, 1 to 200 characters"},
	{"passcode", "passcode", "The viewers' passcode, 4 to 128 characters"},
	{"jwt-secret", "jwt_secret", "The secret that signs host and viewer JWTs (at least min_jwt_secret_length bytes)"},
	{"stream-key", "stream_key", "The publishers' stream key, 16 to 256 characters, unique"},
	{"expires", "expired_at", "When the alias expires: a duration from now (24h, 7d), an RFC 3339 time or Unix seconds"},
}

func addFieldFlags(cmd *cobra.Command) {
	for _, f := range fieldFlags {
		cmd.Flags().String(f.flag, "", f.usage)
	}
}

// aliasBody is the JSON body the field flags given describe; --clear
// fields are null.
func aliasBody(cmd *cobra.Command, now time.Time) ([]byte, error) {
	fields := map[string]any{}
	flags := cmd.Flags()
	for _, f := range fieldFlags {
		if !flags.Changed(f.flag) {
			continue
		}
		v, _ := flags.GetString(f.flag)
		fields[f.field] = v
		if f.field == "expired_at" {
			at, err := parseExpiry(v, now)
			if err != nil {
				return nil, err
			}
			fields[f.field] = at
		}
	}
	if flags.Lookup("clear") != nil {
		clear, _ := flags.GetStringSlice("clear")
		for _, name := range clear {
			field := name
			for _, f := range fieldFlags {
				if name == f.flag || name == f.field {
					if _, set := fields[f.field]; set {
						return nil, fmt.Errorf("--%s is given and cleared at once", f.flag)
					}
					field = f.field
				}
			}
			fields[field] = nil
		}
	}
	return json.Marshal(fields)
}

// parseExpiry reads --expires: Unix seconds, a duration from now (Caddy's
// durations, which add d for days) or an RFC 3339 time.
func parseExpiry(s string, now time.Time) (int64, error) {
	if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
		return sec, nil
	}
	if d, err := caddy.ParseDuration(s); err == nil {
		return now.Add(d).Unix(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Unix(), nil
	}
	return 0, fmt.Errorf("--expires %q: want a duration from now (24h, 7d), an RFC 3339 time (2030-12-31T20:00:00Z) or Unix seconds", s)
}

// aliasAPI returns the alias API over the command's node, as alias_api
// serves it on that database. Its log shows only warnings and errors: a
// store failure's cause, which the API's 503 sentence does not say.
func (env *cliEnv) aliasAPI() *aliasapi.API {
	return &aliasapi.API{
		Store: env.node.Catalog(),
		Gate: &gate.Gate{
			Source: env.node,
			JWT:    gate.NewJWTVerifier(env.cfg.jwtLeeway, env.cfg.maxTokenLifetime, nil),
		},
		Rules:        env.cfg.rules,
		QueryTimeout: env.cfg.queryTimeout,
		Logger:       caddy.Log().Named("linkgate").WithOptions(zap.IncreaseLevel(zapcore.WarnLevel)),
	}
}

// aliasOrg returns the organization the alias commands act for: the one
// --org names, or the only one there is.
func (env *cliEnv) aliasOrg(ctx context.Context, cmd *cobra.Command) (alias.Org, error) {
	if ref, _ := cmd.Flags().GetString("org"); ref != "" {
		return env.findOrg(ctx, ref)
	}
	orgs, err := env.store.Orgs(ctx)
	switch {
	case err != nil:
		return alias.Org{}, fmt.Errorf("listing organizations: %w", err)
	case len(orgs) == 0:
		return alias.Org{}, errors.New("there is no organization yet: caddy linkgate org create NAME makes one")
	case len(orgs) > 1:
		return alias.Org{}, fmt.Errorf("--org is needed: the database holds %d organizations (caddy linkgate org list shows them)", len(orgs))
	}
	return orgs[0], nil
}

// apiAnswer is what the API answered a command's request.
type apiAnswer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (a *apiAnswer) Header() http.Header         { return a.header }
func (a *apiAnswer) WriteHeader(status int)      { a.status = status }
func (a *apiAnswer) Write(p []byte) (int, error) { return a.body.Write(p) }

// err is the answer's error sentence, or nil for a success.
func (a *apiAnswer) err() error {
	if a.status < http.StatusBadRequest {
		return nil
	}
	var body gate.ErrorBody
	if json.Unmarshal(a.body.Bytes(), &body) != nil || body.Errors.Detail == "" {
		return fmt.Errorf("the alias API answered %d", a.status)
	}
	return errors.New(body.Errors.Detail)
}

// call runs one API request as the organization.
func (env *cliEnv) call(ctx context.Context, api *aliasapi.API, orgID, method, path string, body []byte) (*apiAnswer, error) {
	r, err := http.NewRequestWithContext(ctx, method, path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	answer := &apiAnswer{header: http.Header{}, status: http.StatusOK}
	api.ServeAs(answer, r, orgID)
	return answer, nil
}

// request runs the request of an alias command and prints its answer:
// with --json the API's body as it is, also for an error, else what
// render makes of it. An error answer fails the command with the API's
// sentence.
func request(ctx context.Context, cmd *cobra.Command, env *cliEnv, method, path string, body []byte, render func(io.Writer, []byte) error) error {
	org, err := env.aliasOrg(ctx, cmd)
	if err != nil {
		return err
	}
	answer, err := env.call(ctx, env.aliasAPI(), org.ID, method, path, body)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if jsonFlag(cmd) {
		if _, err := out.Write(answer.body.Bytes()); err != nil {
			return err
		}
		return answer.err()
	}
	if err := answer.err(); err != nil {
		return err
	}
	return render(out, answer.body.Bytes())
}

// renderAlias prints an alias as lines of field and value, headed by
// what happened to it.
func renderAlias(headline string) func(io.Writer, []byte) error {
	return func(out io.Writer, body []byte) error {
		var envelope aliasapi.AliasEnvelope
		if err := json.Unmarshal(body, &envelope); err != nil {
			return fmt.Errorf("reading the API's answer: %w", err)
		}
		a := envelope.Data
		if headline != "" {
			fmt.Fprintf(out, headline+"\n", a.ID)
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, row := range [][2]string{
			{"ID", a.ID},
			{"Type", string(a.Type)},
			{"Name", orDash(a.Name)},
			{"Passcode", orDash(a.Passcode)},
			{"JWT secret", orDash(a.JWTSecret)},
			{"Stream key", orDash(a.StreamKey)},
			{"Expires", describeExpiry(a.ExpiredAt, time.Now())},
			{"Created", formatTime(time.Unix(a.InsertedAt, 0))},
		} {
			fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
		}
		return tw.Flush()
	}
}

func orDash(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

// describeExpiry writes an expiry with how far it is from now.
func describeExpiry(unix int64, now time.Time) string {
	at := time.Unix(unix, 0)
	if !now.Before(at) {
		return formatTime(at) + " (expired " + at.Sub(now).Round(time.Second).Abs().String() + " ago)"
	}
	return formatTime(at) + " (in " + at.Sub(now).Round(time.Second).String() + ")"
}

// access says in a word what opens an alias, without its secrets.
func access(a *aliasapi.AliasView) string {
	var what []string
	if a.Passcode != nil {
		what = append(what, "passcode")
	}
	if a.JWTSecret != nil {
		what = append(what, "jwt")
	}
	if len(what) == 0 {
		what = append(what, "public")
	}
	if a.StreamKey != nil {
		what = append(what, "stream key")
	}
	return strings.Join(what, ", ")
}

func aliasCreate(ctx context.Context, cmd *cobra.Command, env *cliEnv, _ []string) error {
	body, err := aliasBody(cmd, time.Now())
	if err != nil {
		return err
	}
	render := renderAlias("Alias %s created.")
	if quietFlag(cmd) {
		render = func(out io.Writer, body []byte) error {
			var envelope aliasapi.AliasEnvelope
			if err := json.Unmarshal(body, &envelope); err != nil {
				return fmt.Errorf("reading the API's answer: %w", err)
			}
			_, err := fmt.Fprintln(out, envelope.Data.ID)
			return err
		}
	}
	return request(ctx, cmd, env, http.MethodPost, "/organization/api/v1/alias/create", body, render)
}

func aliasUpdate(ctx context.Context, cmd *cobra.Command, env *cliEnv, args []string) error {
	body, err := aliasBody(cmd, time.Now())
	if err != nil {
		return err
	}
	return request(ctx, cmd, env, http.MethodPost, "/organization/api/v1/alias/update/"+url.PathEscape(args[0]), body, renderAlias("Alias %s updated."))
}

func aliasShow(ctx context.Context, cmd *cobra.Command, env *cliEnv, args []string) error {
	return request(ctx, cmd, env, http.MethodGet, "/api/v1/alias/"+url.PathEscape(args[0]), nil, renderAlias(""))
}

func aliasDelete(ctx context.Context, cmd *cobra.Command, env *cliEnv, args []string) error {
	return request(ctx, cmd, env, http.MethodDelete, "/organization/api/v1/alias/delete/"+url.PathEscape(args[0]), nil, func(out io.Writer, _ []byte) error {
		_, err := fmt.Fprintf(out, "Alias %s deleted.\n", args[0])
		return err
	})
}

func aliasList(ctx context.Context, cmd *cobra.Command, env *cliEnv, _ []string) error {
	org, err := env.aliasOrg(ctx, cmd)
	if err != nil {
		return err
	}
	flags := cmd.Flags()
	query := url.Values{}
	for _, name := range []string{"type", "after", "limit"} {
		if flags.Changed(name) {
			query.Set(name, flags.Lookup(name).Value.String())
		}
	}
	all, _ := flags.GetBool("all")
	api := env.aliasAPI()
	out := cmd.OutOrStdout()
	var entries []aliasapi.AliasEnvelope
	var next *string
	for {
		answer, err := env.call(ctx, api, org.ID, http.MethodGet, "/organization/api/v1/aliases?"+query.Encode(), nil)
		if err != nil {
			return err
		}
		if jsonFlag(cmd) {
			if _, err := out.Write(answer.body.Bytes()); err != nil {
				return err
			}
		}
		if err := answer.err(); err != nil {
			return err
		}
		var page aliasapi.AliasPage
		if err := json.Unmarshal(answer.body.Bytes(), &page); err != nil {
			return fmt.Errorf("reading the API's answer: %w", err)
		}
		entries = append(entries, page.Entries...)
		next = page.After
		if !all || next == nil {
			break
		}
		query.Set("after", *next)
	}
	if jsonFlag(cmd) {
		return nil
	}
	if len(entries) == 0 {
		fmt.Fprintln(out, "No aliases.")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tNAME\tEXPIRES\tACCESS")
	now := time.Now()
	for i := range entries {
		a := &entries[i].Data
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.ID, a.Type, orDash(a.Name), describeExpiry(a.ExpiredAt, now), access(a))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if next != nil {
		fmt.Fprintf(out, "More follow: add --after %s (or --all).\n", *next)
	}
	return nil
}

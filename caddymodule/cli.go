package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/node"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "linkgate",
		Usage: "org|token|alias|jwt|migrate ...",
		Short: "Manages linkgate organizations, tokens, aliases, host tokens and the database schema",
		Long: `Manages what the alias API serves, from the machine that holds the
database: organizations and their tokens, aliases, the JWTs that open them,
and the database schema.

Every command finds the database the same way: --database (a postgres://
or postgresql:// URL, or sqlite:PATH for a file of the embedded store);
else the linkgate app's database option in --config FILE; else in
./Caddyfile; else the embedded store that a config without a database
option uses, under Caddy's data directory. The rules the server applies
(min_jwt_secret_length, max_token_lifetime, jwt_leeway, query_timeout)
are read from the same config, also when --database is given.
Every command first brings the schema up to date, so it works on a new,
empty database.`,
		CobraFunc: linkgateCommand,
	})
}

// cliTimeout bounds a whole command: a database that does not answer makes
// it fail, not hang.
const cliTimeout = 30 * time.Second

// cliCacheSize is the size of the node's caches in a command, which reads
// a handful of aliases.
const cliCacheSize = 100

func linkgateCommand(cmd *cobra.Command) {
	flags := cmd.PersistentFlags()
	flags.String("database", "", "The alias store: a postgres:// or postgresql:// URL, or sqlite:PATH (default: the config's database option)")
	flags.StringP("config", "c", "", "Caddy config file whose linkgate app names the database and the rules (default: ./Caddyfile if there is one)")
	flags.StringP("adapter", "a", "", "Name of the config adapter of --config")
	cmd.AddCommand(orgCommand(), tokenCommand(), aliasCommand(), jwtCommand(), migrateCommand())
}

func orgCommand() *cobra.Command {
	org := &cobra.Command{Use: "org", Short: "Manages organizations"}
	create := withStore(&cobra.Command{
		Use:   "create NAME [--allow-duplicate] [--json | -q]",
		Short: "Creates an organization and its first token, shown once",
		Long: `Creates an organization and its first token. The token is shown only
now: the database keeps its SHA-256.

A name that an organization has already (compared exactly: case and
spaces count) is refused, so that running the command twice does not
make two organizations; --allow-duplicate makes another one all the same.`,
		Args: cobra.ExactArgs(1),
	}, orgCreate)
	create.Flags().Bool("allow-duplicate", false, "Create the organization even if one of that name exists")
	addOutputFlags(create, "Print only the token")
	list := withStore(&cobra.Command{
		Use:   "list [--json]",
		Short: "Lists the organizations, oldest first",
		Args:  cobra.NoArgs,
	}, orgList)
	addOutputFlags(list, "")
	org.AddCommand(create, list)
	return org
}

func tokenCommand() *cobra.Command {
	token := &cobra.Command{Use: "token", Short: "Manages organization tokens"}
	create := withStore(&cobra.Command{
		Use:   "create ORG [--name NAME] [--json | -q]",
		Short: "Creates a token for an organization (its ID or name); it is shown once",
		Args:  cobra.ExactArgs(1),
	}, tokenCreate)
	create.Flags().String("name", "", "A label for the token")
	addOutputFlags(create, "Print only the token")
	list := withStore(&cobra.Command{
		Use:   "list ORG [--json]",
		Short: "Lists an organization's tokens (by its ID or name), revoked ones included",
		Args:  cobra.ExactArgs(1),
	}, tokenList)
	addOutputFlags(list, "")
	revoke := withStore(&cobra.Command{
		Use:   "revoke TOKEN_ID [--json]",
		Short: "Revokes a token: it stops opening the API at once",
		Args:  cobra.ExactArgs(1),
	}, tokenRevoke)
	addOutputFlags(revoke, "")
	token.AddCommand(create, list, revoke)
	return token
}

func migrateCommand() *cobra.Command {
	migrate := withStore(&cobra.Command{
		Use:   "migrate [--json]",
		Short: "Brings the database schema up to date and says what it applied",
		Args:  cobra.NoArgs,
	}, migrateReport)
	addOutputFlags(migrate, "")
	return migrate
}

// cliConfig is what the commands take from the config: the database, and
// the rules the server checks input and credentials by, so that a command
// refuses what the server would refuse.
type cliConfig struct {
	db               node.Database
	rules            alias.Rules
	queryTimeout     time.Duration
	jwtLeeway        time.Duration
	maxTokenLifetime time.Duration
}

// loadCLIConfig reads the linkgate app of the config the flags point at
// (or ./Caddyfile), with the app's defaults for what it leaves out;
// --database replaces its database.
func loadCLIConfig(cmd *cobra.Command) (cliConfig, error) {
	flags := cmd.Flags()
	configFile, _ := flags.GetString("config")
	adapter, _ := flags.GetString("adapter")
	raw, _, _, err := caddycmd.LoadConfig(configFile, adapter)
	if err != nil {
		return cliConfig{}, err
	}
	// A config whose handlers use linkgate without the global option
	// gets an app with every option at its default.
	var app App
	if raw != nil {
		var parsed struct {
			Apps struct {
				Linkgate *App `json:"linkgate"`
			} `json:"apps"`
		}
		if err := json.Unmarshal(raw, &parsed); err != nil {
			return cliConfig{}, fmt.Errorf("reading the config: %w", err)
		}
		if parsed.Apps.Linkgate != nil {
			app = *parsed.Apps.Linkgate
		}
	}
	if dsn, _ := flags.GetString("database"); dsn != "" {
		app.Database = dsn
	}
	db, err := resolveDatabase(app.Database)
	if err != nil {
		return cliConfig{}, err
	}
	app.setDefaults()
	return cliConfig{
		db:               db,
		rules:            app.rules(),
		queryTimeout:     time.Duration(app.QueryTimeout),
		jwtLeeway:        time.Duration(app.JWTLeeway),
		maxTokenLifetime: time.Duration(app.MaxTokenLifetime),
	}, nil
}

// cliEnv is what a command works with: the config, and a node on its
// database, as a server would have, whose store is migrated.
type cliEnv struct {
	cfg   cliConfig
	node  *node.Node
	store alias.Store
	// migrations are those applied before the command ran.
	migrations []string
}

type runFunc func(ctx context.Context, cmd *cobra.Command, env *cliEnv, args []string) error

// withStore makes run a command that gets a migrated store.
func withStore(cmd *cobra.Command, run runFunc) *cobra.Command {
	cmd.SilenceUsage = true
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cfg, err := loadCLIConfig(cmd)
		if err != nil {
			return err
		}
		if !cfg.db.Postgres {
			fmt.Fprintf(cmd.ErrOrStderr(), "linkgate: using the SQLite database %s\n", cfg.db.DSN)
		}
		n, err := node.New(node.Config{
			Database:     cfg.db,
			CacheSize:    cliCacheSize,
			QueryTimeout: cfg.queryTimeout,
		}, node.Events{}, nil)
		if err != nil {
			return err
		}
		defer n.Close()
		s, err := n.Backend()
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), cliTimeout)
		defer cancel()
		applied, err := s.ApplyMigrations(ctx)
		if err != nil {
			return fmt.Errorf("migrating the database: %w", err)
		}
		// migrate reports on standard output what it applied; any other
		// command mentions it, as the schema changed under it.
		if len(applied) > 0 && cmd.Name() != "migrate" {
			fmt.Fprintf(cmd.ErrOrStderr(), "linkgate: migrated the database: applied %s\n", strings.Join(applied, ", "))
		}
		// A node answers lookups once started; the commands that read
		// aliases through it need that, not its change feed for long.
		if err := n.Start(ctx, false); err != nil {
			return err
		}
		return run(ctx, cmd, &cliEnv{cfg: cfg, node: n, store: s, migrations: applied}, args)
	}
	return cmd
}

// addOutputFlags gives cmd --json and, when quiet says what it prints,
// -q; the two exclude each other.
func addOutputFlags(cmd *cobra.Command, quiet string) {
	cmd.Flags().Bool("json", false, "Print JSON instead of text")
	if quiet != "" {
		cmd.Flags().BoolP("quiet", "q", false, quiet)
		cmd.MarkFlagsMutuallyExclusive("json", "quiet")
	}
}

func jsonFlag(cmd *cobra.Command) bool {
	on, _ := cmd.Flags().GetBool("json")
	return on
}

func quietFlag(cmd *cobra.Command) bool {
	on, _ := cmd.Flags().GetBool("quiet")
	return on
}

func printJSON(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// formatTime writes times as the commands print them: RFC 3339 in UTC, to
// the second.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// findOrg returns the organization ref names: an ID (org_...), or a name
// that exactly one organization has.
func (env *cliEnv) findOrg(ctx context.Context, ref string) (alias.Org, error) {
	if strings.HasPrefix(ref, "org_") {
		org, err := env.store.Org(ctx, ref)
		if errors.Is(err, alias.ErrNotFound) {
			return org, fmt.Errorf("no organization has the ID %q (caddy linkgate org list shows them)", ref)
		}
		return org, err
	}
	orgs, err := env.store.OrgsByName(ctx, ref)
	switch {
	case err != nil:
		return alias.Org{}, err
	case len(orgs) == 0:
		return alias.Org{}, fmt.Errorf("no organization is named %q; names are compared exactly, case and spaces included (caddy linkgate org list shows them)", ref)
	case len(orgs) > 1:
		return alias.Org{}, fmt.Errorf("%d organizations are named %q: %s; name one by its ID instead", len(orgs), ref, orgIDs(orgs))
	}
	return orgs[0], nil
}

func orgIDs(orgs []alias.Org) string {
	ids := make([]string, len(orgs))
	for i, o := range orgs {
		ids[i] = o.ID
	}
	return strings.Join(ids, ", ")
}

func orgCreate(ctx context.Context, cmd *cobra.Command, env *cliEnv, args []string) error {
	name := args[0]
	if strings.TrimSpace(name) == "" {
		return errors.New("an organization needs a name that is not blank")
	}
	if dup, _ := cmd.Flags().GetBool("allow-duplicate"); !dup {
		existing, err := env.store.OrgsByName(ctx, name)
		if err != nil {
			return fmt.Errorf("looking for organizations of that name: %w", err)
		}
		if len(existing) > 0 {
			return fmt.Errorf("an organization named %q exists already (%s); names are compared exactly, case and spaces included. "+
				"For another token of it: caddy linkgate token create %s. For a second organization of that name: add --allow-duplicate",
				name, orgIDs(existing), existing[0].ID)
		}
	}
	org, err := env.store.CreateOrg(ctx, name)
	if err != nil {
		return fmt.Errorf("creating the organization: %w", err)
	}
	token, hash := alias.NewOrgToken()
	if _, err := env.store.CreateToken(ctx, org.ID, "initial", hash); err != nil {
		return fmt.Errorf("creating the organization's token: %w", err)
	}
	out := cmd.OutOrStdout()
	switch {
	case jsonFlag(cmd):
		return printJSON(out, struct {
			OrgID string `json:"org_id"`
			Name  string `json:"name"`
			Token string `json:"token"`
		}{org.ID, org.Name, token})
	case quietFlag(cmd):
		fmt.Fprintln(out, token)
		return nil
	}
	fmt.Fprintf(out, "Organization %s (%q) created.\nToken, shown only now: %s\n", org.ID, org.Name, token)
	return nil
}

func orgList(ctx context.Context, cmd *cobra.Command, env *cliEnv, _ []string) error {
	orgs, err := env.store.Orgs(ctx)
	if err != nil {
		return fmt.Errorf("listing organizations: %w", err)
	}
	out := cmd.OutOrStdout()
	if jsonFlag(cmd) {
		return printJSON(out, orgs)
	}
	if len(orgs) == 0 {
		fmt.Fprintln(out, "No organizations yet: caddy linkgate org create NAME makes one.")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ORG ID\tNAME\tCREATED")
	for _, o := range orgs {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", o.ID, o.Name, formatTime(o.CreatedAt))
	}
	return tw.Flush()
}

func tokenCreate(ctx context.Context, cmd *cobra.Command, env *cliEnv, args []string) error {
	org, err := env.findOrg(ctx, args[0])
	if err != nil {
		return err
	}
	name, _ := cmd.Flags().GetString("name")
	token, hash := alias.NewOrgToken()
	info, err := env.store.CreateToken(ctx, org.ID, name, hash)
	if err != nil {
		return fmt.Errorf("creating the token: %w", err)
	}
	out := cmd.OutOrStdout()
	switch {
	case jsonFlag(cmd):
		return printJSON(out, struct {
			TokenID string `json:"token_id"`
			OrgID   string `json:"org_id"`
			Token   string `json:"token"`
		}{info.ID, info.OrgID, token})
	case quietFlag(cmd):
		fmt.Fprintln(out, token)
		return nil
	}
	fmt.Fprintf(out, "Token %s created for %s.\nToken, shown only now: %s\n", info.ID, info.OrgID, token)
	return nil
}

func tokenList(ctx context.Context, cmd *cobra.Command, env *cliEnv, args []string) error {
	org, err := env.findOrg(ctx, args[0])
	if err != nil {
		return err
	}
	tokens, err := env.store.Tokens(ctx, org.ID)
	if err != nil {
		return fmt.Errorf("listing tokens: %w", err)
	}
	out := cmd.OutOrStdout()
	if jsonFlag(cmd) {
		return printJSON(out, tokens)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOKEN ID\tNAME\tCREATED\tREVOKED")
	for _, t := range tokens {
		revoked := "-"
		if t.RevokedAt != nil {
			revoked = formatTime(*t.RevokedAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Name, formatTime(t.CreatedAt), revoked)
	}
	return tw.Flush()
}

func tokenRevoke(ctx context.Context, cmd *cobra.Command, env *cliEnv, args []string) error {
	info, err := env.store.RevokeToken(ctx, args[0])
	if errors.Is(err, alias.ErrNotFound) {
		return fmt.Errorf("no unrevoked token %q", args[0])
	}
	if err != nil {
		return fmt.Errorf("revoking the token: %w", err)
	}
	if jsonFlag(cmd) {
		return printJSON(cmd.OutOrStdout(), info)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Token %s of %s revoked.\n", info.ID, info.OrgID)
	return nil
}

// migrateReport says what the migration that every command starts with
// applied.
func migrateReport(_ context.Context, cmd *cobra.Command, env *cliEnv, _ []string) error {
	out := cmd.OutOrStdout()
	if jsonFlag(cmd) {
		return printJSON(out, struct {
			Applied []string `json:"applied"`
		}{env.migrations})
	}
	if len(env.migrations) == 0 {
		fmt.Fprintln(out, "Database schema already up to date.")
		return nil
	}
	fmt.Fprintf(out, "Applied %s. Database schema up to date.\n", strings.Join(env.migrations, ", "))
	return nil
}

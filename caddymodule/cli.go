package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
		Usage: "org|token|migrate ...",
		Short: "Manages linkgate organizations, their tokens and the database schema",
		Long: `Manages what the alias API needs before its first request: organizations,
their tokens, and the database schema.

Every command finds the database the same way: --database URL; else the
linkgate app's database option in --config FILE; else in ./Caddyfile.
Every command first brings the schema up to date, so it works on a new,
empty database.`,
		CobraFunc: linkgateCommand,
	})
}

// cliTimeout bounds a whole command: a database that does not answer makes
// it fail, not hang.
const cliTimeout = 30 * time.Second

func linkgateCommand(cmd *cobra.Command) {
	flags := cmd.PersistentFlags()
	flags.String("database", "", "PostgreSQL URL of the alias store")
	flags.StringP("config", "c", "", "Caddy config file whose linkgate app names the database")
	flags.StringP("adapter", "a", "", "Name of the config adapter of --config")

	org := &cobra.Command{Use: "org", Short: "Manages organizations"}
	org.AddCommand(withStore(&cobra.Command{
		Use:   "create NAME [--json]",
		Short: "Creates an organization and its first token",
		Args:  cobra.ExactArgs(1),
	}, orgCreate))

	token := &cobra.Command{Use: "token", Short: "Manages organization tokens"}
	create := withStore(&cobra.Command{
		Use:   "create ORG_ID [--name NAME] [--json]",
		Short: "Creates a token for an organization; it is shown once",
		Args:  cobra.ExactArgs(1),
	}, tokenCreate)
	create.Flags().String("name", "", "A label for the token")
	token.AddCommand(
		create,
		withStore(&cobra.Command{
			Use:   "list ORG_ID [--json]",
			Short: "Lists an organization's tokens, revoked ones included",
			Args:  cobra.ExactArgs(1),
		}, tokenList),
		withStore(&cobra.Command{
			Use:   "revoke TOKEN_ID",
			Short: "Revokes a token: it stops opening the API at once",
			Args:  cobra.ExactArgs(1),
		}, tokenRevoke),
	)

	// Every command migrates first, so migrate has nothing left to do.
	migrate := withStore(&cobra.Command{
		Use:   "migrate",
		Short: "Brings the database schema up to date",
		Args:  cobra.NoArgs,
	}, func(_ context.Context, cmd *cobra.Command, _ alias.Store, _ []string) error {
		fmt.Fprintln(cmd.OutOrStdout(), "Database schema up to date.")
		return nil
	})
	cmd.AddCommand(org, token, migrate)
}

// withStore makes run a command that gets a migrated store.
func withStore(cmd *cobra.Command, run func(context.Context, *cobra.Command, alias.Store, []string) error) *cobra.Command {
	cmd.Flags().Bool("json", false, "Print JSON instead of text")
	cmd.SilenceUsage = true
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		db, err := cliDatabase(cmd)
		if err != nil {
			return err
		}
		if !db.Postgres {
			fmt.Fprintf(cmd.ErrOrStderr(), "linkgate: using the SQLite database %s\n", db.DSN)
		}
		s, err := db.Open()
		if err != nil {
			return err
		}
		defer s.Close()
		ctx, cancel := context.WithTimeout(cmd.Context(), cliTimeout)
		defer cancel()
		if err := s.Migrate(ctx); err != nil {
			return fmt.Errorf("migrating the database: %w", err)
		}
		return run(ctx, cmd, s, args)
	}
	return cmd
}

// cliDatabase finds the database a command works on: the one the config
// names, or the one a config without a database option would use.
func cliDatabase(cmd *cobra.Command) (node.Database, error) {
	flags := cmd.Flags()
	if dsn, _ := flags.GetString("database"); dsn != "" {
		return resolveDatabase(dsn)
	}
	configFile, _ := flags.GetString("config")
	adapter, _ := flags.GetString("adapter")
	cfg, _, _, err := caddycmd.LoadConfig(configFile, adapter)
	if err != nil {
		return node.Database{}, err
	}
	if cfg == nil {
		return defaultDatabase(), nil
	}
	var parsed struct {
		Apps struct {
			Linkgate *App `json:"linkgate"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &parsed); err != nil {
		return node.Database{}, fmt.Errorf("reading the config: %w", err)
	}
	// A config whose handlers use linkgate without the global option gets
	// an app with no database option: the default one.
	if parsed.Apps.Linkgate == nil {
		return defaultDatabase(), nil
	}
	return resolveDatabase(parsed.Apps.Linkgate.Database)
}

func jsonFlag(cmd *cobra.Command) bool {
	on, _ := cmd.Flags().GetBool("json")
	return on
}

func printJSON(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

func orgCreate(ctx context.Context, cmd *cobra.Command, s alias.Store, args []string) error {
	org, err := s.CreateOrg(ctx, args[0])
	if err != nil {
		return fmt.Errorf("creating the organization: %w", err)
	}
	token, hash := alias.NewOrgToken()
	if _, err := s.CreateToken(ctx, org.ID, "initial", hash); err != nil {
		return fmt.Errorf("creating the organization's token: %w", err)
	}
	out := cmd.OutOrStdout()
	if jsonFlag(cmd) {
		return printJSON(out, struct {
			OrgID string `json:"org_id"`
			Name  string `json:"name"`
			Token string `json:"token"`
		}{org.ID, org.Name, token})
	}
	fmt.Fprintf(out, "Organization %s (%q) created.\nToken, shown only now: %s\n", org.ID, org.Name, token)
	return nil
}

func tokenCreate(ctx context.Context, cmd *cobra.Command, s alias.Store, args []string) error {
	name, _ := cmd.Flags().GetString("name")
	token, hash := alias.NewOrgToken()
	info, err := s.CreateToken(ctx, args[0], name, hash)
	if errors.Is(err, alias.ErrNotFound) {
		return fmt.Errorf("no organization %q", args[0])
	}
	if err != nil {
		return fmt.Errorf("creating the token: %w", err)
	}
	out := cmd.OutOrStdout()
	if jsonFlag(cmd) {
		return printJSON(out, struct {
			TokenID string `json:"token_id"`
			OrgID   string `json:"org_id"`
			Token   string `json:"token"`
		}{info.ID, info.OrgID, token})
	}
	fmt.Fprintf(out, "Token %s created for %s.\nToken, shown only now: %s\n", info.ID, info.OrgID, token)
	return nil
}

func tokenList(ctx context.Context, cmd *cobra.Command, s alias.Store, args []string) error {
	tokens, err := s.Tokens(ctx, args[0])
	if err != nil {
		return fmt.Errorf("listing tokens: %w", err)
	}
	// Every organization gets a token when it is made, and revoked ones
	// stay listed: an empty list means a mistyped ID.
	if len(tokens) == 0 {
		return fmt.Errorf("no organization %q", args[0])
	}
	out := cmd.OutOrStdout()
	if jsonFlag(cmd) {
		if tokens == nil {
			tokens = []alias.TokenInfo{}
		}
		return printJSON(out, tokens)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOKEN ID\tNAME\tCREATED\tREVOKED")
	for _, t := range tokens {
		revoked := "-"
		if t.RevokedAt != nil {
			revoked = t.RevokedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Name, t.CreatedAt.UTC().Format(time.RFC3339), revoked)
	}
	return tw.Flush()
}

func tokenRevoke(ctx context.Context, cmd *cobra.Command, s alias.Store, args []string) error {
	info, err := s.RevokeToken(ctx, args[0])
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

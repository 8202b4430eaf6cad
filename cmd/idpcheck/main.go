// Command idpcheck plays Microsoft Entra ID's and Okta's provisioning
// cycles (package idptest) against a running SCIM service:
//
//	SCIM_TOKEN=… go run ./cmd/idpcheck -url http://127.0.0.1:8080/scim/v2
//	go run ./cmd/idpcheck -url https://staging.example.com/scim/v2 -token-file token.txt -writes-to staging.example.com
//
// The token comes from the file -token-file names, else from $SCIM_TOKEN;
// -token works too, with a warning, since every user of the machine sees a
// command line. Everything a run creates carries a prefix
// ("idpcheck-" and six hex digits) and is deleted at the end, also after a
// failure or Ctrl-C (a second Ctrl-C stops at once, and says what to look
// for). It refuses a URL that is not on this machine unless -writes-to
// names its host: the run creates, changes and deletes users and groups
// there.
//
// It prints a progress line while it runs, a table per cycle with a line
// per step, and the first failure with its requests and responses, and
// exits 1 when a cycle fails, 2 on bad usage and 130 when interrupted.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/scimkit/scim/idptest"
)

func main() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv, sigs))
}

// config is what the flags say.
type config struct {
	url          string
	token        string
	cycles       []cycle
	opts         idptest.Options
	writesTo     string
	requestLimit time.Duration
}

// cycle is a cycle the command plays.
type cycle struct {
	name    string
	cycle   idptest.Cycle
	flagged bool
}

// cycleNames are the -cycles values.
func cycleNames() map[string]cycle {
	return map[string]cycle{
		"entra":                  {"entra", idptest.CycleEntra, false},
		"entra-aadoptscim062020": {"entra-aadOptscim062020", idptest.CycleEntra, true},
		"okta":                   {"okta", idptest.CycleOkta, false},
	}
}

// attributeNames are the -attributes values.
func attributeNames() map[string]idptest.Attribute {
	return map[string]idptest.Attribute{
		"username": idptest.UserName, "active": idptest.Active, "displayname": idptest.DisplayName,
		"email": idptest.Emails, "givenname": idptest.GivenName, "familyname": idptest.FamilyName,
		"title": idptest.Title, "department": idptest.Department, "phone": idptest.Phone,
		"preferredlanguage": idptest.PreferredLanguage, "externalid": idptest.ExternalID,
		"manager": idptest.Manager, "password": idptest.Password, "groups": idptest.Groups,
	}
}

// parse reads the flags and the token.
func parse(args []string, stderr io.Writer, getenv func(string) string) (*config, error) {
	fs := flag.NewFlagSet("idpcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u := fs.String("url", "", "the service's SCIM base URL (Entra ID's Tenant URL), e.g. https://staging.example.com/scim/v2 (required)")
	tokenFile := fs.String("token-file", "", "file holding the bearer token (default $SCIM_TOKEN)")
	token := fs.String("token", "", "the bearer token; visible in the process list, prefer $SCIM_TOKEN or -token-file")
	cycles := fs.String("cycles", "entra,entra-aadOptscim062020,okta", "the cycles to play, comma-separated: entra, entra-aadOptscim062020, okta")
	attrs := fs.String("attributes", "", "the attributes the service maps, comma-separated (default all): userName, active, displayName, email, givenName, familyName, title, department, phone, preferredLanguage, externalId, manager, password, groups")
	match := fs.String("match", "userName", "the attribute Entra ID matches users by: userName, externalId or email")
	users := fs.Int("users", 3, "users each cycle provisions")
	groups := fs.Int("groups", 2, "groups each cycle provisions (when groups are mapped)")
	members := fs.Int("group-members", 0, "members of each group (default: every user)")
	concurrency := fs.Int("concurrency", 1, "requests at once in the steps that touch every user")
	domain := fs.String("domain", "example.com", "the domain of the users' userNames and emails")
	writesTo := fs.String("writes-to", "", "the host of a -url that is not on this machine: confirms the run may create, change and delete users and groups there")
	timeout := fs.Duration("request-timeout", 60*time.Second, "how long one request may take")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: idpcheck -url URL [flags]  (token from -token-file or $SCIM_TOKEN)\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *u == "" {
		return nil, errors.New("-url is required")
	}
	c := &config{url: *u, writesTo: *writesTo, requestLimit: *timeout}
	switch {
	case *token != "":
		fmt.Fprintln(stderr, "idpcheck: warning: -token shows the token to every user of this machine; prefer $SCIM_TOKEN or -token-file")
		c.token = *token
	case *tokenFile != "":
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return nil, fmt.Errorf("-token-file: %w", err)
		}
		c.token = strings.TrimSpace(string(b))
	default:
		c.token = getenv("SCIM_TOKEN")
	}
	if c.token == "" {
		fmt.Fprintln(stderr, "idpcheck: warning: no token ($SCIM_TOKEN or -token-file): requests go without Authorization, and the check that a wrong token is refused is skipped")
	}
	names := cycleNames()
	for _, n := range strings.Split(*cycles, ",") {
		cy, ok := names[strings.ToLower(strings.TrimSpace(n))]
		if !ok {
			return nil, fmt.Errorf("-cycles: unknown cycle %q (entra, entra-aadOptscim062020, okta)", n)
		}
		c.cycles = append(c.cycles, cy)
	}
	if *attrs != "" {
		an := attributeNames()
		c.opts.Attributes = []idptest.Attribute{}
		for _, n := range strings.Split(*attrs, ",") {
			a, ok := an[strings.ToLower(strings.TrimSpace(n))]
			if !ok {
				return nil, fmt.Errorf("-attributes: unknown attribute %q", n)
			}
			c.opts.Attributes = append(c.opts.Attributes, a)
		}
	}
	m, ok := attributeNames()[strings.ToLower(*match)]
	if !ok {
		return nil, fmt.Errorf("-match: unknown attribute %q", *match)
	}
	c.opts.Matching = m
	c.opts.Users, c.opts.Groups, c.opts.GroupMembers, c.opts.Concurrency = *users, *groups, *members, *concurrency
	if *users < 1 || *groups < 0 || *members < 0 || *concurrency < 1 {
		return nil, errors.New("-users and -concurrency must be at least 1, -groups and -group-members at least 0")
	}
	if *groups == 0 {
		c.opts.Attributes = withoutGroups(c.opts.Attributes)
	}
	c.opts.Domain = *domain
	return c, checkTarget(c.url, c.writesTo)
}

// withoutGroups leaves group provisioning out of a mapping (nil: all).
func withoutGroups(attrs []idptest.Attribute) []idptest.Attribute {
	if attrs == nil {
		attrs = idptest.AllAttributes()
	}
	var out []idptest.Attribute
	for _, a := range attrs {
		if a != idptest.Groups {
			out = append(out, a)
		}
	}
	return out
}

// checkTarget refuses a URL that is not on this machine unless writesTo
// names its host.
func checkTarget(raw, writesTo string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-url %q is not an http(s) URL", raw)
	}
	host := u.Hostname()
	if loopback(host) {
		return nil
	}
	if writesTo == "" {
		return fmt.Errorf("%s is not on this machine, and the run creates, changes and deletes users and groups there (all named with its prefix, all deleted at the end); to go ahead, add -writes-to %s", host, host)
	}
	if !strings.EqualFold(writesTo, host) {
		return fmt.Errorf("-writes-to %s does not name the host of -url, %s", writesTo, host)
	}
	return nil
}

// loopback reports whether host is this machine: localhost, a name under
// .localhost, or a loopback address.
func loopback(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// run is the command; it returns the exit code.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string, sigs <-chan os.Signal) int {
	c, err := parse(args, stderr, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "idpcheck:", err)
		return 2
	}
	prefix := "idpcheck-" + randomHex(3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interrupted := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-ctx.Done():
			return
		}
		close(interrupted)
		fmt.Fprintf(stderr, "\nidpcheck: interrupted: deleting what the run created (Ctrl-C again to stop now)\n")
		cancel()
		select {
		case <-sigs:
			fmt.Fprintf(stderr, "idpcheck: stopped before the cleanup finished: users and groups whose userName or displayName starts with %q may remain\n", prefix)
			os.Exit(130)
		case <-ctx.Done():
		}
	}()
	p := newProgress(stderr)
	fmt.Fprintf(stdout, "idpcheck: %s, prefix %s\n", c.url, prefix)
	failed := false
	for i, cy := range c.cycles {
		if ctx.Err() != nil {
			break
		}
		opts := c.opts
		opts.Token, opts.TenantURL, opts.AADOptSCIM062020 = c.token, c.url, cy.flagged
		opts.Prefix = fmt.Sprintf("%s-%d", prefix, i)
		opts.Client = &http.Client{Timeout: c.requestLimit}
		opts.Progress = p.update
		r, err := idptest.Run(ctx, cy.cycle, nil, opts)
		p.done()
		if err != nil {
			fmt.Fprintln(stderr, "idpcheck:", err)
			return 2
		}
		fmt.Fprintln(stdout)
		if err := r.WriteTable(stdout); err != nil {
			fmt.Fprintln(stderr, "idpcheck:", err)
		}
		if r.Err() != nil || len(r.Cleanup.Left) > 0 {
			failed = true
		}
	}
	select {
	case <-interrupted:
		return 130
	default:
	}
	if failed {
		fmt.Fprintln(stdout, "\nidpcheck: FAILED")
		return 1
	}
	fmt.Fprintf(stdout, "\nidpcheck: every cycle passed, and nothing is left behind\n")
	return 0
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

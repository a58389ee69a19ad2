// Command composecheck loads Docker Compose files the way `docker compose config -q` does, with
// compose-go (the library Docker Compose itself uses): the Compose Specification's JSON schema,
// interpolation, merging, normalization and the consistency checks (unknown services in depends_on,
// undefined networks, volumes, secrets). It needs no Docker daemon and pulls nothing. A warning from
// the loader (an unset variable defaulting to blank, an obsolete key) fails the check too.
//
// Usage: composecheck [-env-file FILE] [-print] compose.yaml [override.yaml ...]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/sirupsen/logrus"
)

// warnings records every warning the loader logs, so that they fail the check instead of scrolling by.
type warnings struct{ seen []string }

func (w *warnings) Levels() []logrus.Level { return []logrus.Level{logrus.WarnLevel, logrus.ErrorLevel} }

func (w *warnings) Fire(entry *logrus.Entry) error {
	w.seen = append(w.seen, entry.Message)
	return nil
}

func main() {
	envFile := flag.String("env-file", "", "an env file to interpolate from, as `docker compose --env-file`")
	print := flag.Bool("print", false, "print the resolved model, as `docker compose config`")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: composecheck [-env-file FILE] [-print] compose.yaml [...]")
		os.Exit(2)
	}
	hook := &warnings{}
	logrus.AddHook(hook)

	options := []cli.ProjectOptionsFn{cli.WithOsEnv, cli.WithConsistency(true), cli.WithResolvedPaths(true)}
	if *envFile != "" {
		options = append(options, cli.WithEnvFiles(*envFile), cli.WithDotEnv)
	}
	projectOptions, err := cli.NewProjectOptions(flag.Args(), options...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	project, err := projectOptions.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	if len(hook.seen) > 0 {
		for _, message := range hook.seen {
			fmt.Fprintln(os.Stderr, "warning treated as an error:", message)
		}
		os.Exit(1)
	}
	if *print {
		out, err := project.MarshalYAML()
		if err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(1)
		}
		os.Stdout.Write(out)
	}
}

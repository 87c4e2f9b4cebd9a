package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
)

// TopLevelKeys returns every top-level key of the pulumi-jobs namespace,
// without the namespace, sorted: the Release's inputs, but image (a field
// of app in the config) and kubeconfig and context (the stack's
// kubernetes: keys name the cluster).
func TopLevelKeys() []string {
	return slices.DeleteFunc(tagKeys(release.Args{}), func(k string) bool {
		return k == "image" || k == "kubeconfig" || k == "context"
	})
}

// UnknownKeys returns a Problem for every key of the pulumi-jobs namespace in
// keys that is not one of TopLevelKeys, sorted by key. keys are full config
// keys as a workspace lists them ("pulumi-jobs:app", "kubernetes:context");
// keys of other namespaces are ignored. A program cannot list the stack's
// config keys itself, so a deployment driver calls this with the keys of the
// stack's whole config before it runs the program.
//
// Messages suggest the nearest known key ("did you mean preDeploy?"), and
// for a key like "pulumi-jobs:app.name", set without --path, how to set the
// field inside the object instead.
func UnknownKeys(keys []string) []Problem {
	known := TopLevelKeys()
	list := strings.Join(known, ", ")
	var out []Problem
	for _, full := range keys {
		name, ok := strings.CutPrefix(full, Namespace+":")
		if !ok || slices.Contains(known, name) {
			continue
		}
		if i := strings.IndexAny(name, ".["); i > 0 && slices.Contains(known, name[:i]) {
			out = append(out, Problem{Key: full, Message: fmt.Sprintf(
				"unknown key; to set a field inside %s use a path: pulumi config set --path '%s' <value>, then remove this key with: pulumi config rm '%s'",
				name[:i], name, full)})
			continue
		}
		if s, ok := suggest(name, known); ok {
			out = append(out, Problem{Key: full, Message: fmt.Sprintf(
				"unknown key; did you mean %s? The valid %s keys are %s", s, Namespace, list)})
			continue
		}
		out = append(out, Problem{Key: full, Message: fmt.Sprintf(
			"unknown key; the valid %s keys are %s; remove it with: pulumi config rm '%s'", Namespace, list, full)})
	}
	slices.SortStableFunc(out, func(a, b Problem) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// suggest returns the candidate nearest to name by case-insensitive edit
// distance, if it is near enough to be a typo: at most 1 edit for a
// candidate shorter than 6 characters, at most 2 otherwise.
func suggest(name string, candidates []string) (string, bool) {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(name), strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := 1
	if len(best) >= 6 {
		limit = 2
	}
	return best, bestDist >= 0 && bestDist <= limit
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// StackFile returns the name of the settings file of stack, Pulumi.<stack>.yaml.
func StackFile(stack string) string {
	return "Pulumi." + check.StackName(stack) + ".yaml"
}

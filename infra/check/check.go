// Package check holds the value rules of a release: what makes a name, an
// image, a quantity, a timeout or an annotation valid. Stack config (package
// config) and the components (packages jobs and release) apply the same
// rules, so a value is refused with the same message whether it came from
// Pulumi.<stack>.yaml or from a program that builds the Args itself.
//
// Every rule adds its findings to a *Problems under the key it was given;
// the caller decides how keys are spelled ("pulumi-jobs:app.image" for stack
// config, "app.image" for component args).
package check

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Problem is one invalid value: the key that holds it, with a path into
// objects and lists (for example "preDeploy[1].timeout"), and what would be
// valid there.
type Problem struct {
	// Key is the key of the value, with a path into objects and lists.
	Key string
	// Message says what is wrong and what would be valid.
	Message string
}

// String renders the problem as "key: message".
func (p Problem) String() string { return p.Key + ": " + p.Message }

// Problems collects Problems in the order they are found.
type Problems struct {
	// List is every problem found so far.
	List []Problem
}

// Add records a problem at key.
func (p *Problems) Add(key, format string, args ...any) {
	p.List = append(p.List, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
}

// Prefixed returns the problems with prefix put before every key.
func (p *Problems) Prefixed(prefix string) []Problem {
	out := make([]Problem, len(p.List))
	for i, q := range p.List {
		out[i] = Problem{Key: prefix + q.Key, Message: q.Message}
	}
	return out
}

// ArgsError reports every invalid argument of a component at once; the
// component registers nothing when it returns one.
type ArgsError struct {
	// Resource is the component, as "pulumi-jobs:index:Release shop".
	Resource string
	// Problems are the invalid arguments, keys as the args spell them.
	Problems []Problem
}

// Error lists the problems, one per line.
func (e *ArgsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d invalid argument(s); nothing was registered:", e.Resource, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// MaxInt32 is the largest value of the int32 fields of the Kubernetes API.
const MaxInt32 = math.MaxInt32

// MaxTimeout is the longest job timeout. The timeout becomes the Job's
// activeDeadlineSeconds, and the engine waits that plus a minute for the Job,
// so a deploy may block this long; a week is beyond any real migration and
// catches typos such as "1000000h" while keeping both values far from the
// limits of int64 seconds and Go durations.
const MaxTimeout = 7 * 24 * time.Hour

// MaxAnnotationsBytes is Kubernetes' limit on the total size of one object's
// annotations, keys plus values: TotalAnnotationSizeLimitB of
// k8s.io/apimachinery/pkg/api/validation (not imported, as it would pull
// the API machinery's serializers into the program).
const MaxAnnotationsBytes = 256 * 1024

// AutoNameSuffix is the length of what the Kubernetes provider appends to a
// resource's name to form an auto-named object's name: "-" and 8 hex digits.
const AutoNameSuffix = 9

// MaxAutoNamedJob is the longest resource name of an auto-named Job: its
// cluster name must fit the 63-character label batch.kubernetes.io/job-name
// that the Job controller puts on its pods.
const MaxAutoNamedJob = validation.DNS1123LabelMaxLength - AutoNameSuffix

// DatabaseURLEnv is the environment variable that carries the database URL
// into the app and every Job; env maps may not set it.
const DatabaseURLEnv = "DATABASE_URL"

// Range is the valid range of a whole-number field and how a message
// describes it.
type Range struct {
	// Min and Max are the smallest and largest valid values.
	Min, Max int64
	// What is the complete description, e.g. "a whole number between 0 and 2147483647".
	What string
}

// ReplicasRange is the range of a Deployment's replicas.
func ReplicasRange() Range {
	return Range{0, MaxInt32, "a whole number between 0 and 2147483647 (the Deployment's replicas is an int32)"}
}

// PortRange is the range of a TCP port.
func PortRange() Range { return Range{1, 65535, "a TCP port, a whole number between 1 and 65535"} }

// WaveRange is the range of a job's wave.
func WaveRange() Range { return Range{0, MaxInt32, "a whole number between 0 and 2147483647"} }

// BackoffLimitRange is the range of a Job's backoffLimit.
func BackoffLimitRange() Range {
	return Range{0, MaxInt32, "a whole number between 0 and 2147483647 (the Job's backoffLimit is an int32)"}
}

// Int reports n at key unless it lies within r.
func (r Range) Int(p *Problems, key string, n int) {
	if int64(n) < r.Min || int64(n) > r.Max {
		p.Add(key, "must be %s, got %d", r.What, n)
	}
}

// Name reports every way value fails isValid, a name rule of
// k8s.io/apimachinery/pkg/util/validation.
func Name(p *Problems, key, value string, isValid func(string) []string) {
	for _, msg := range isValid(value) {
		p.Add(key, "%q is not a valid name: %s", value, msg)
	}
}

// JobName checks the name of an auto-named Job: a DNS-1123 label of at most
// MaxAutoNamedJob characters once prefix (the component's name and "-", or
// "") is put before it. Its length is reported once, with the real limit,
// instead of apimachinery's 63.
func JobName(p *Problems, key, prefix, name string) {
	for _, msg := range validation.IsDNS1123Label(name) {
		if msg != validation.MaxLenError(validation.DNS1123LabelMaxLength) {
			p.Add(key, "%q is not a valid name: %s", name, msg)
		}
	}
	if n := len(prefix) + len(name); n > MaxAutoNamedJob {
		if prefix == "" {
			p.Add(key, "%q is not a valid name: must be no more than %d characters, got %d: %s", name, MaxAutoNamedJob, n, jobNameLengthReason)
			return
		}
		p.Add(key, "%q is not a valid name: with the prefix %q it must be no more than %d characters, got %d: %s; shorten the job's name or the component's",
			name, prefix, MaxAutoNamedJob, n, jobNameLengthReason)
	}
}

// jobNameLengthReason says why a job name is limited to MaxAutoNamedJob.
const jobNameLengthReason = `the provider appends "-" and 8 hex digits to form the Job's name, which must fit the 63-character label batch.kubernetes.io/job-name`

// IsSystemNamespace reports whether ns belongs to Kubernetes itself: default,
// kube-system, kube-public, kube-node-lease or any other kube-*.
func IsSystemNamespace(ns string) bool {
	return ns == "default" || strings.HasPrefix(ns, "kube-")
}

// Namespace checks the name of the release's namespace.
func Namespace(p *Problems, key, ns string) {
	Name(p, key, ns, validation.IsDNS1123Label)
	if IsSystemNamespace(ns) {
		p.Add(key, "%q is a namespace of Kubernetes itself, not the release's: with createNamespace (the default) the release would own it, relabel it for Pod Security and delete it with everything in it on pulumi destroy; without, the app and Jobs would mix with the cluster's own objects. Use a namespace of the release's own, e.g. shop", ns)
	}
}

// StackName returns the bare name of stack, which may be fully qualified as
// organization/project/stack.
func StackName(stack string) string {
	return stack[strings.LastIndex(stack, "/")+1:]
}

// IsProduction reports whether stack is a production stack, whose images must
// be pinned to a version tag or a digest. Only the bare stack name counts (the
// last segment of organization/project/stack), compared case-insensitively.
// A name is production when it is "prod" or "production", or starts with
// either followed by "-", "_", "." or a digit: prod, prod-eu, prod_2,
// prod.eu-west, prod2, production-eu. Names that merely start with the
// letters "prod" are not: product-demo, prodigy, producer. Neither are names
// with "prod" elsewhere (preprod, eu-prod).
func IsProduction(stack string) bool {
	name := strings.ToLower(StackName(stack))
	for _, base := range []string{"production", "prod"} {
		rest, ok := strings.CutPrefix(name, base)
		if !ok {
			continue
		}
		if rest == "" || strings.ContainsRune("-_.0123456789", rune(rest[0])) {
			return true
		}
	}
	return false
}

// Image checks an image reference; on a production stack it must also be
// pinned to a version tag or a digest.
func Image(p *Problems, key, image, stack string) {
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		p.Add(key, `%q is not an image reference (%v); use repo:tag or repo@sha256:…, e.g. "ghcr.io/acme/shop:1.4.2"`, image, err)
		return
	}
	if !IsProduction(stack) {
		return
	}
	if _, digested := ref.(reference.Digested); digested {
		return
	}
	tagged, ok := ref.(reference.Tagged)
	switch {
	case !ok:
		p.Add(key, "%q has no tag; stack %q is a production stack, so pin a version tag or a digest (repo@sha256:…)", image, stack)
	case tagged.Tag() == "latest":
		p.Add(key, "%q uses the tag latest; stack %q is a production stack, so pin a version tag or a digest (repo@sha256:…)", image, stack)
	}
}

// Timeout parses and checks a job timeout, a Go duration; ok is false when
// it was refused.
func Timeout(p *Problems, key, s string) (d time.Duration, ok bool) {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		p.Add(key, `%q is not a Go duration; use e.g. "90s", "10m" or "1h30m"`, s)
	case d <= 0:
		p.Add(key, "must be positive, got %q", s)
	case d > MaxTimeout:
		p.Add(key, `%q is longer than the maximum of %dh (%d days); the timeout becomes the Job's activeDeadlineSeconds and the engine waits that plus 1m, so give the longest the Job may really run, e.g. "2h"`,
			s, int(MaxTimeout.Hours()), int(MaxTimeout.Hours()/24))
	default:
		return d, true
	}
	return 0, false
}

// Annotations applies Kubernetes' annotation rules: every key a qualified
// name (case-insensitively, as in ValidateAnnotations of
// k8s.io/apimachinery/pkg/api/validation), and keys plus values at most
// 256 KiB in total.
func Annotations(p *Problems, key string, ann map[string]string) {
	total := 0
	for _, k := range SortedKeys(ann) {
		total += len(k) + len(ann[k])
		for _, msg := range validation.IsQualifiedName(strings.ToLower(k)) {
			p.Add(fmt.Sprintf("%s[%q]", key, k), "not a valid annotation key: %s", msg)
		}
	}
	if total > MaxAnnotationsBytes {
		p.Add(key, "keys and values total %d bytes, more than Kubernetes' limit of %d bytes (256 KiB) for the annotations of one object; keep large data out of annotations, e.g. in a ConfigMap", total, MaxAnnotationsBytes)
	}
}

// Env checks the names of an environment: valid variable names, and not
// DATABASE_URL, which comes from the database URL's Secret.
func Env(p *Problems, key string, env map[string]string) {
	for _, name := range SortedKeys(env) {
		k := key + "." + name
		for _, msg := range validation.IsEnvVarName(name) {
			p.Add(k, "not a valid environment variable name: %s", msg)
		}
		if name == DatabaseURLEnv {
			p.Add(k, "is reserved: it is set from the secret database URL (stack config: pulumi config set --secret databaseUrl; component: the databaseUrl argument)")
		}
	}
}

// Quantity checks one CPU or memory amount. Quantities must not be negative.
// A request of 0 is allowed, as in Kubernetes (the container gets no
// reservation); a limit of 0 is refused, because the container runtime reads
// it as no limit at all, the opposite of what it says. example is a valid
// value to suggest.
func Quantity(p *Problems, key, v, example string, isLimit bool) bool {
	qty, err := resource.ParseQuantity(v)
	switch {
	case err != nil:
		p.Add(key, `%q is not a Kubernetes quantity; use e.g. "250m" for CPU or "256Mi" for memory`, v)
	case qty.Sign() < 0:
		p.Add(key, "%q is negative; a quantity must be 0 or more, e.g. %q", v, example)
	case isLimit && qty.IsZero():
		p.Add(key, "%q is no limit at all to the container runtime; set a limit above 0, e.g. %q, or leave it out for the default", v, example)
	default:
		return true
	}
	return false
}

// RequestWithinLimit reports a request above its limit at key. Values that
// do not parse are left to Quantity.
func RequestWithinLimit(p *Problems, key, request, limit string) {
	req, err1 := resource.ParseQuantity(request)
	lim, err2 := resource.ParseQuantity(limit)
	if err1 == nil && err2 == nil && req.Cmp(lim) > 0 {
		p.Add(key, "%s is more than the limit %s; a request must not exceed its limit", request, limit)
	}
}

// SortedKeys returns the keys of m in order.
func SortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}

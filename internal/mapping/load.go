package mapping

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tailscale/hujson"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/schema"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/mappings"
)

// IsBuiltin reports whether ref names a built-in mapping rather than a file.
func IsBuiltin(ref string) bool {
	return !strings.ContainsAny(ref, `/\.`)
}

// Load reads a mapping: a built-in name ("pingone") or a file path. It returns
// the parsed spec and the name used in errors ("builtin:pingone" or the path).
// The error is a *ConfigError, or several joined (see Parse).
func Load(ref string) (*Spec, string, error) {
	file, data, err := read(ref)
	if err != nil {
		return nil, file, err
	}
	s, err := Parse(file, data)
	return s, file, err
}

// LoadAndCompile is Load, then Compile for one route: what provisioning a
// route does with its mapping, and what `caddy twilio-sms check` does with
// each file, so that both report the same problems in the same words.
func LoadAndCompile(ref string, cfg Config) (*Mapping, error) {
	spec, file, err := Load(ref)
	if err != nil {
		return nil, err
	}
	return Compile(spec, file, cfg)
}

// Check loads and compiles a mapping as a route does (LoadAndCompile) and
// returns each problem as one line, "file:line:col: path: message", in file
// order; nil when there is none. These are the lines of the error
// LoadAndCompile returns.
func Check(ref string, cfg Config) []string {
	_, err := LoadAndCompile(ref, cfg)
	var lines []string
	for _, p := range Problems(err) {
		lines = append(lines, p.Error())
	}
	return lines
}

// read returns a mapping's name in errors and its bytes.
func read(ref string) (string, []byte, error) {
	if IsBuiltin(ref) {
		file := "builtin:" + ref
		data, ok := mappings.Read(ref)
		if !ok {
			return file, nil, &ConfigError{File: file, Err: fmt.Errorf("no such built-in mapping (built-in: %s; or give a path to a .json file)", strings.Join(mappings.Names(), ", "))}
		}
		return file, data, nil
	}
	data, err := os.ReadFile(ref)
	if err != nil {
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			err = pe.Err
		}
		return ref, nil, &ConfigError{File: ref, Err: fmt.Errorf("cannot read the mapping file: %w", err)}
	}
	return ref, data, nil
}

// Parse reads a mapping file. It is JSON with comments (// and /* */) and
// trailing commas allowed (HuJSON), checked against mappings/schema.json,
// the only check of its shape: unknown keys, types, enums, source syntax and
// the keys each part requires. Every problem found is a *ConfigError with
// its path, line and column; several are joined (errors.Join), in file
// order. What the schema cannot see (expressions, references between parts,
// regular expressions) is Compile's.
func Parse(file string, data []byte) (*Spec, error) {
	std, ast, err := standardize(data)
	if err != nil {
		return nil, syntaxError(file, data, err)
	}
	sum := sha256.Sum256(std)
	if _, ok := validated.Load(sum); !ok {
		problems := duplicateKeys(ast, nil)
		violations, err := schema.Validate(std)
		if err != nil {
			return nil, &ConfigError{File: file, Err: err}
		}
		for _, v := range violations {
			problems = append(problems, &ConfigError{Path: v.Path, Key: v.Key, Err: errors.New(v.Message)})
		}
		if len(problems) > 0 {
			return nil, fileErrors(file, data, problems)
		}
		if validatedCount.Add(1) > maxValidated {
			validated.Clear()
			validatedCount.Store(1)
		}
		validated.Store(sum, true)
	}
	var s Spec
	if err := json.Unmarshal(std, &s); err != nil {
		// The schema let through what the Go types cannot hold: a bug.
		return nil, &ConfigError{File: file, Err: err}
	}
	s.src = data
	return &s, nil
}

// validated remembers documents (standard JSON, by SHA-256) that passed the
// schema, so that provisioning the same mapping again, on every route and
// every reload, does not check it again. It forgets everything past
// maxValidated documents.
var (
	validated      sync.Map
	validatedCount atomic.Int64
)

const maxValidated = 1024

// standardize parses a HuJSON document and returns it as standard JSON, with
// every comment and trailing comma replaced by spaces: each byte keeps its
// offset (and each line its number), so positions found in the result are
// positions in data. data itself is left as it was.
func standardize(data []byte) ([]byte, *hujson.Value, error) {
	v, err := hujson.Parse(bytes.Clone(data)) // Standardize rewrites the bytes it parsed
	if err != nil {
		return nil, nil, err
	}
	ast := v.Clone()
	v.Standardize()
	return v.Pack(), &ast, nil
}

// syntaxError reports a document hujson could not parse, at the line and
// column hujson names.
func syntaxError(file string, data []byte, err error) error {
	e := &ConfigError{File: file}
	var line, col int
	if _, scanErr := fmt.Sscanf(err.Error(), "hujson: line %d, column %d:", &line, &col); scanErr == nil {
		e.Line, e.Col = line, col
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
	}
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		e.Line, e.Col = 0, 0
		e.Err = errors.New("not valid JSON: the file is empty")
	case errors.Is(err, io.ErrUnexpectedEOF) && strings.HasPrefix(err.Error(), "parsing comment"):
		e.Err = errors.New("not valid JSON: the file ends inside a comment (/* without */)")
	case errors.Is(err, io.ErrUnexpectedEOF):
		e.Err = errors.New("not valid JSON: the file ends before the top-level object is closed")
	default:
		e.Err = fmt.Errorf("not valid JSON: %w", err)
	}
	return e
}

// duplicateKeys reports each key written twice in one object, at its last
// occurrence: the one that counts.
func duplicateKeys(v *hujson.Value, path Path) []*ConfigError {
	var out []*ConfigError
	switch c := v.Value.(type) {
	case *hujson.Object:
		count := map[string]int{}
		for _, m := range c.Members {
			count[memberName(m)]++
		}
		reported := map[string]bool{}
		for i := len(c.Members) - 1; i >= 0; i-- {
			name := memberName(c.Members[i])
			if count[name] > 1 && !reported[name] {
				reported[name] = true
				out = append(out, &ConfigError{Path: append(slices.Clone(path), name), Key: true,
					Err: fmt.Errorf("key %q appears %d times (only the last one would count)", name, count[name])})
			}
		}
		for i := range c.Members {
			m := &c.Members[i]
			out = append(out, duplicateKeys(&m.Value, append(slices.Clone(path), memberName(*m)))...)
		}
	case *hujson.Array:
		for i := range c.Elements {
			out = append(out, duplicateKeys(&c.Elements[i], append(slices.Clone(path), i))...)
		}
	}
	return out
}

func memberName(m hujson.ObjectMember) string {
	l, _ := m.Name.Value.(hujson.Literal)
	return l.String()
}

// fileErrors names the file in each problem, places each in data, and joins
// them in file order (problems without a position first).
func fileErrors(file string, data []byte, problems []*ConfigError) error {
	locateAll(data, problems)
	for _, p := range problems {
		p.File = file
	}
	slices.SortStableFunc(problems, func(a, b *ConfigError) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col),
			strings.Compare(a.Path.String(), b.Path.String()), strings.Compare(a.Err.Error(), b.Err.Error()))
	})
	problems = slices.CompactFunc(problems, func(a, b *ConfigError) bool { return a.Error() == b.Error() })
	if len(problems) == 1 {
		return problems[0]
	}
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// locateAll sets the position of each problem from its path (see locate),
// parsing src once.
func locateAll(src []byte, problems []*ConfigError) {
	if src == nil {
		return
	}
	v, err := hujson.Parse(src)
	if err != nil {
		return
	}
	for _, p := range problems {
		locate(&v, src, p)
	}
}

// locate is the one place a position comes from a path. It sets e's Line and
// Col to where e.Path is in src, the file as written, comments and all: the
// first byte of the value, or with e.Key the first letter of the last key's
// name. Where an object holds a key twice it follows the last one, the one
// that counts. An index into an object (reply.success[0] where the file
// wrote "success": {...}, one case rather than a list) is dropped from the
// path, so the path says what the file says. A path the file does not have,
// and a problem with the route's settings, leave e without a position.
func locate(v *hujson.Value, src []byte, e *ConfigError) {
	if e.route {
		return
	}
	cur := v
	var path Path
	off := -1
	for i, t := range e.Path {
		found := false
		switch c := cur.Value.(type) {
		case *hujson.Object:
			name, ok := t.(string)
			if !ok {
				if t == 0 {
					continue // one case written for a list of them
				}
				break
			}
			j := len(c.Members) - 1
			for j >= 0 && memberName(c.Members[j]) != name {
				j--
			}
			if j < 0 {
				break
			}
			m := &c.Members[j]
			if i == len(e.Path)-1 && e.Key {
				off = m.Name.StartOffset + 1 // after the opening quote
			}
			path, cur, found = append(path, name), &m.Value, true
		case *hujson.Array:
			if n, ok := t.(int); ok && n >= 0 && n < len(c.Elements) {
				path, cur, found = append(path, n), &c.Elements[n], true
			}
		}
		if !found {
			// Not in the file: no position, but the path as far as the
			// file goes says what the file says.
			e.Path = append(path, e.Path[i:]...)
			return
		}
	}
	if off < 0 {
		off = cur.StartOffset
	}
	e.Path = path
	e.Line, e.Col = lineCol(src, off)
}

// lineCol turns a byte offset into a 1-based line and column (in bytes).
func lineCol(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	return line, off - bytes.LastIndexByte(data[:off], '\n')
}

package phone

import (
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// The numbers a gateway sees repeat: the configured sender on every request,
// a user's number on every retry and resend, the same number handed to
// Normalize, NormalizeSender and Region in one request. libphonenumber
// spends about 13 µs and 78 allocations on even an E.164 input (mostly
// regular expressions: the extension pattern in Parse and the number-type
// patterns in IsValidNumber), so valid results are memoized here.
//
// The metadata never changes while the process runs, so a cached result is
// exactly what the computation would return again. Only strictly valid
// results are stored: they are the same for a lenient and a strict
// Normalizer (a lenient one only considers possible readings when no reading
// is valid), while a merely possible number is recomputed every time.
//
// Keys are the cleaned input, not the raw one, so "(415) 555-2671" and
// "415.555.2671" share an entry and a key never pins a request body:
//
//	"+" digits          for international input ("+", a decoded plus, NetIQ);
//	                    this is the E.164 result itself, which Region, Kind
//	                    and TypeOf also look up
//	mode region digits  for other input: the reading mode ('a' auto, 'i'
//	                    international, 'n' national, from Normalizer.Assume)
//	                    and DefaultRegion ("aUS4155552671"; "--" with no
//	                    region), since both change what digits mean
//
// Digits after a last "/" or "~" that may be an extension are kept after a
// "/" ("aDE0171/1234567"), since "0171/1234567" and "01711234567" are read
// differently.
//
// The cache holds at most 2*cacheGeneration entries (a few hundred kB at
// most) of recently used numbers: a two-generation map, where a full
// current generation becomes the old one and the old one is dropped.
// Entries hold phone numbers, as does the rest of the process memory
// handling the same requests; nothing here is logged or exported.
const cacheGeneration = 2048

// result is a valid normalization.
type result struct {
	e164   string
	region string                       // ISO region, "" for non-geographic numbers
	kind   string                       // Kind's answer
	typ    phonenumbers.PhoneNumberType // TypeOf's answer
}

type cache struct {
	mu       sync.Mutex
	cur, old map[string]result
}

var results = &cache{}

// get looks key up. The map index with a string conversion of a []byte
// does not allocate.
func (c *cache) get(key []byte) (result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.cur[string(key)]; ok {
		return r, true
	}
	if r, ok := c.old[string(key)]; ok {
		c.putLocked(string(key), r) // still in use: keep it past the next rotation
		return r, true
	}
	return result{}, false
}

func (c *cache) put(key string, r result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(key, r)
}

func (c *cache) putLocked(key string, r result) {
	if c.cur == nil || len(c.cur) >= cacheGeneration {
		c.old, c.cur = c.cur, make(map[string]result, cacheGeneration)
	}
	c.cur[key] = r
}

// reset empties the cache; for tests and benchmarks.
func (c *cache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur, c.old = nil, nil
}

// len returns the number of entries; for tests.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old)
}

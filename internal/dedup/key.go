package dedup

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"sync"
)

// Key identifies one logical send. It is an HMAC-SHA256 digest: it reveals
// nothing about the parts without the process's secret.
type Key [sha256.Size]byte

// String is a short hex prefix, enough to correlate log lines of one process.
func (k Key) String() string { return hex.EncodeToString(k[:6]) }

// secret is drawn once per process: keys are meaningless to anyone else and
// across restarts, which is all a short duplicate window needs.
var secret = func() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead)
	return b
}()

type keyer struct {
	mac hash.Hash
	buf []byte
}

var keyers = sync.Pool{New: func() any { return &keyer{mac: hmac.New(sha256.New, secret), buf: make([]byte, 0, 256)} }}

// KeyOf derives the key of parts, for example KeyOf(caller, to, body). Each part
// is length-prefixed before hashing, so ("ab", "c") and ("a", "bc") differ; order
// matters. KeyOf is safe for concurrent use and does not allocate in the steady
// state.
func KeyOf(parts ...string) Key {
	k := keyers.Get().(*keyer)
	b := k.buf[:0]
	for _, p := range parts {
		b = binary.BigEndian.AppendUint64(b, uint64(len(p)))
		b = append(b, p...)
	}
	k.mac.Reset()
	k.mac.Write(b)
	b = k.mac.Sum(b[:0])
	var key Key
	copy(key[:], b)
	clear(b[:cap(b)]) // no code stays behind in the pooled buffer
	if cap(b) <= 64<<10 {
		k.buf = b[:0]
		keyers.Put(k)
	}
	return key
}

package phone

import (
	"regexp/syntax"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// This file answers, for numbers libphonenumber does not call valid (a
// lenient Normalizer lets possible ones through), which region's and which
// number type's patterns they come closest to: how many leading digits of the
// national number each pattern can still be the start of. For a +1 number
// with a Canadian area code and an unassigned exchange, Canada's fixed-line
// pattern follows the area code and no other region's does; for +1 900 and
// anything after it, the premium-rate pattern follows "900" and no other
// type's does.

// typeDescs are the number types the metadata describes with patterns, in
// the order libphonenumber tests them.
var typeDescs = [...]phonenumbers.PhoneNumberType{
	phonenumbers.PREMIUM_RATE, phonenumbers.TOLL_FREE, phonenumbers.SHARED_COST,
	phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER, phonenumbers.PAGER,
	phonenumbers.UAN, phonenumbers.VOICEMAIL, phonenumbers.FIXED_LINE,
	phonenumbers.MOBILE,
}

// territory holds the compiled number-type patterns of one region, or of a
// non-geographic calling code ("001").
type territory struct {
	region string
	types  [len(typeDescs)]*syntax.Prog // nil where the region has no such numbers
}

var (
	metadataOnce sync.Once
	regionMeta   map[string]*phonenumbers.PhoneMetadata
	nonGeoMeta   map[int32]*phonenumbers.PhoneMetadata

	territoriesMu sync.Mutex
	territories   = map[int][]*territory{}
)

// loadMetadata indexes libphonenumber's metadata. MetadataCollection
// returns the collection the library parsed at init; nothing is copied.
func loadMetadata() {
	regionMeta = map[string]*phonenumbers.PhoneMetadata{}
	nonGeoMeta = map[int32]*phonenumbers.PhoneMetadata{}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return // then nothing is known beyond what libphonenumber answers
	}
	for _, md := range coll.GetMetadata() {
		if md.GetId() == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
			nonGeoMeta[md.GetCountryCode()] = md
		} else {
			regionMeta[md.GetId()] = md
		}
	}
}

// territoriesFor returns the compiled patterns of every region of calling
// code cc, in libphonenumber's order (main region first). Built on first use
// and kept: a few dozen calling codes at most ever get here.
func territoriesFor(cc int) []*territory {
	territoriesMu.Lock()
	defer territoriesMu.Unlock()
	if ts, ok := territories[cc]; ok {
		return ts
	}
	metadataOnce.Do(loadMetadata)
	var ts []*territory
	for _, region := range phonenumbers.GetRegionCodesForCountryCode(cc) {
		md := regionMeta[region]
		if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
			md = nonGeoMeta[int32(cc)]
		}
		if md == nil {
			continue
		}
		t := &territory{region: region}
		for i, typ := range typeDescs {
			t.types[i] = compileDesc(typeDesc(md, typ))
		}
		ts = append(ts, t)
	}
	territories[cc] = ts
	return ts
}

// typeDesc is libphonenumber's getNumberDescByType.
func typeDesc(md *phonenumbers.PhoneMetadata, typ phonenumbers.PhoneNumberType) *phonenumbers.PhoneNumberDesc {
	switch typ {
	case phonenumbers.PREMIUM_RATE:
		return md.GetPremiumRate()
	case phonenumbers.TOLL_FREE:
		return md.GetTollFree()
	case phonenumbers.SHARED_COST:
		return md.GetSharedCost()
	case phonenumbers.VOIP:
		return md.GetVoip()
	case phonenumbers.PERSONAL_NUMBER:
		return md.GetPersonalNumber()
	case phonenumbers.PAGER:
		return md.GetPager()
	case phonenumbers.UAN:
		return md.GetUan()
	case phonenumbers.VOICEMAIL:
		return md.GetVoicemail()
	case phonenumbers.FIXED_LINE:
		return md.GetFixedLine()
	case phonenumbers.MOBILE:
		return md.GetMobile()
	}
	return nil
}

// compileDesc compiles a number type's national number pattern, or returns
// nil if the region has no numbers of the type ("NA", or no lengths).
func compileDesc(d *phonenumbers.PhoneNumberDesc) *syntax.Prog {
	pattern := d.GetNationalNumberPattern()
	if pattern == "" || pattern == "NA" {
		return nil
	}
	if pl := d.GetPossibleLength(); len(pl) == 1 && pl[0] == -1 {
		return nil
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil
	}
	return prog
}

// nfa runs compiled patterns as Thompson NFAs; its buffers are reused from
// one pattern to the next.
type nfa struct {
	mark      []uint32 // the step (plus one) an instruction was last added in, per instruction
	step      uint32
	cur, next []uint32
}

// reach returns how many leading digits of s the pattern p, matched from the
// start, can follow: len(s) if s is the start of some string p matches
// entirely (or matches s itself), less where p cannot go on. s is ASCII
// digits.
func (m *nfa) reach(p *syntax.Prog, s string) int {
	if p == nil {
		return 0
	}
	if len(m.mark) < len(p.Inst) {
		m.mark = make([]uint32, len(p.Inst))
	}
	clear(m.mark)
	m.step = 0
	m.cur = m.add(p, s, m.cur[:0], uint32(p.Start), 0)
	for pos := 0; pos < len(s); pos++ {
		m.step++
		m.next = m.next[:0]
		for _, pc := range m.cur {
			if i := &p.Inst[pc]; i.Op != syntax.InstMatch && i.MatchRune(rune(s[pos])) {
				m.next = m.add(p, s, m.next, i.Out, pos+1)
			}
		}
		if len(m.next) == 0 {
			return pos
		}
		m.cur, m.next = m.next, m.cur
	}
	return len(s)
}

// add appends to list the instructions that consume input or match,
// reachable from pc at position pos of s without consuming any.
func (m *nfa) add(p *syntax.Prog, s string, list []uint32, pc uint32, pos int) []uint32 {
	if m.mark[pc] == m.step+1 {
		return list
	}
	m.mark[pc] = m.step + 1
	switch i := &p.Inst[pc]; i.Op {
	case syntax.InstAlt, syntax.InstAltMatch:
		list = m.add(p, s, list, i.Out, pos)
		return m.add(p, s, list, i.Arg, pos)
	case syntax.InstCapture, syntax.InstNop:
		return m.add(p, s, list, i.Out, pos)
	case syntax.InstEmptyWidth:
		before, after := rune(-1), rune(-1)
		if pos > 0 {
			before = rune(s[pos-1])
		}
		if pos < len(s) {
			after = rune(s[pos])
		}
		if syntax.EmptyOp(i.Arg)&^syntax.EmptyOpContext(before, after) == 0 {
			return m.add(p, s, list, i.Out, pos)
		}
		return list
	case syntax.InstFail:
		return list
	}
	return append(list, pc) // a rune instruction or Match
}

// regionByPrefix returns the one region of calling code cc whose number
// patterns follow the national number nsn furthest, at least need digits
// (the area code); "" if there is none or more than one.
func regionByPrefix(cc int, nsn string, need int) string {
	var m nfa
	best, found, unique := 0, "", false
	for _, t := range territoriesFor(cc) {
		depth := 0
		for _, p := range t.types {
			depth = max(depth, m.reach(p, nsn))
		}
		switch {
		case depth > best:
			best, found, unique = depth, t.region, true
		case depth == best:
			unique = false
		}
	}
	if !unique || best < max(need, 1) {
		return ""
	}
	return realRegion(found)
}

// typeByPrefix returns the number type, among all regions of calling code
// cc, whose patterns follow the national number nsn furthest, preferring the
// risky ones (see Kind) on a tie; UNKNOWN if no pattern follows even the
// first digit.
func typeByPrefix(cc int, nsn string) phonenumbers.PhoneNumberType {
	var (
		m     nfa
		depth [len(typeDescs)]int
		best  int
	)
	for _, t := range territoriesFor(cc) {
		for i, p := range t.types {
			depth[i] = max(depth[i], m.reach(p, nsn))
			best = max(best, depth[i])
		}
	}
	if best == 0 {
		return phonenumbers.UNKNOWN
	}
	for _, k := range riskyTypes {
		for i, typ := range typeDescs {
			if typ == k && depth[i] == best {
				return typ
			}
		}
	}
	for i, typ := range typeDescs {
		if depth[i] == best {
			return typ
		}
	}
	return phonenumbers.UNKNOWN
}

package flows

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Rule is one parsed ntuple rule in ethtool's words.
type Rule struct {
	Spec       FlowSpec // the bytes for ETHTOOL_SRXCLSRLINS; Spec.Location = given loc, else 0
	RSSContext uint32   // rss_context of struct ethtool_rxnfc (with FLOW_RSS, from `context N`)
	HasLoc     bool     // `loc N` was given
	HasAction  bool     // `action N` or `vf N queue M` was given (Spec.RingCookie set)
	Words      []string // the words as given
}

// NeedsLocation reports whether the caller must choose the location before
// inserting (with PickLocation): no `loc` was given, or the given one is one
// of the special RX_CLS_LOC_* values, for which ethtool also picks a free
// location itself unless the driver selects locations.
func (r Rule) NeedsLocation() bool {
	return !r.HasLoc || r.Spec.Location&RxClsLocSpecial != 0
}

// SyntaxError is what Parse returns: it names the offending word, its
// position, what is wrong, and a fix.
type SyntaxError struct {
	Word   string // the offending word ("" when the rule is empty)
	Pos    int    // 0-based index of Word in the words given to Parse
	Reason string // what is wrong
	Fix    string // what to write instead
}

// Error shows the position 1-based, as a person counts words.
func (e *SyntaxError) Error() string {
	s := fmt.Sprintf("ethtool rule, word %d %q: %s", e.Pos+1, e.Word, e.Reason)
	if e.Fix != "" {
		s += "; fix: " + e.Fix
	}
	return s
}

func syntaxErr(words []string, pos int, reason, fix string) *SyntaxError {
	w := ""
	if pos < len(words) {
		w = words[pos]
	}
	return &SyntaxError{Word: w, Pos: pos, Reason: reason, Fix: fix}
}

const flowTypeList = "tcp4, udp4, sctp4, ah4, esp4, ip4, tcp6, udp6, sctp6, ah6, esp6, ip6, ether"

// ParseDecimal is Parse for the rules an operator gives vfbypass: a number
// with a leading zero, which ethtool reads as octal (dst-port 0100 is port
// 64), is refused with its value, so a number means what it reads as;
// decimal and 0x hex are taken as ethtool takes them.
func ParseDecimal(words []string) (Rule, error) {
	for i, w := range words {
		v, octal, valid := octalNumber(w)
		switch {
		case octal && valid:
			return Rule{}, &SyntaxError{Word: w, Pos: i, Reason: fmt.Sprintf("a leading zero makes ethtool read the number as octal (%d)", v),
				Fix: fmt.Sprintf("write it without the leading zero in decimal (%d, or %s if you meant that) or in hex (%#x)", v, noLeadingZeros(w), v)}
		case octal:
			return Rule{}, &SyntaxError{Word: w, Pos: i, Reason: "a leading zero makes ethtool read the number as octal, and it has a digit 8 or 9",
				Fix: fmt.Sprintf("write it in decimal without the leading zero (%s)", noLeadingZeros(w))}
		}
	}
	return Parse(words)
}

// noLeadingZeros is the number word w as a decimal reading of its digits.
func noLeadingZeros(w string) string {
	i, _ := cSign(w)
	if d := strings.TrimLeft(w[i:], "0"); d != "" {
		return w[:i] + d
	}
	return "0"
}

// Parse reads an ntuple rule in the grammar of `ethtool -N DEV` (alias -U)
// after the device name: `flow-type TYPE` followed, in any order, by the
// fields of that type (each once, a value and optionally `m MASK` or
// `NAME-mask MASK`), `action N` or `vf N [queue M]`, `loc N` and `context N`.
// It accepts what ethtool 6.1 accepts and produces the same bytes, except
// that it refuses three inputs ethtool lets through silently: a field name
// without a value at the end of the rule (ethtool ignores it), `queue` without
// `vf` (ethtool treats it as `action`) and `vf 255` (ethtool stores 256 in the
// 8-bit VF field, which leaves 0, the PF). Errors are *SyntaxError.
func Parse(words []string) (Rule, error) {
	r := Rule{Words: slices.Clone(words)}
	ft, err := parseFlowType(words)
	if err != nil {
		return r, err
	}
	p := &ruleParser{words: words, ft: ft, r: &r, flowTyp: ft.typ, firstAt: map[uint32]int{}, vfPos: -1, queuePos: -1}
	for i := 2; i < len(words); {
		w := words[i]
		if w == "context" {
			i, err = p.context(i)
		} else if act, ok := actionWords[w]; ok {
			i, err = p.action(i, act)
		} else {
			i, err = p.field(i)
		}
		if err != nil {
			return r, err
		}
	}
	if err := p.checkRing(); err != nil {
		return r, err
	}
	p.finish()
	return r, nil
}

// parseFlowType reads `flow-type TYPE`, the first two words of a rule.
func parseFlowType(words []string) (*flowType, error) {
	if len(words) == 0 {
		return nil, &SyntaxError{Pos: 0, Reason: "empty rule", Fix: "start with flow-type TYPE (" + flowTypeList + ")"}
	}
	if words[0] != "flow-type" {
		reason := "a rule starts with flow-type"
		if words[0] == "delete" {
			reason = "delete removes a rule by location; it is not a rule"
		}
		return nil, syntaxErr(words, 0, reason, "write flow-type TYPE FIELD VALUE ... action N, e.g. flow-type tcp4 dst-port 80 vf 0 queue 0")
	}
	if len(words) < 2 {
		return nil, syntaxErr(words, 0, "missing flow type", "add one of "+flowTypeList)
	}
	ft, ok := flowTypeByName(words[1])
	if !ok {
		fix := "use one of " + flowTypeList
		if _, lower := flowTypeByName(strings.ToLower(words[1])); lower {
			fix = "flow types are lower case: " + strings.ToLower(words[1])
		}
		return nil, syntaxErr(words, 1, "unknown flow type", fix)
	}
	return ft, nil
}

// ruleParser is Parse's state while it reads the words after the flow
// type: the spec's bytes, the fields and actions given (with the word each
// was first given at) and the ring cookie being built.
type ruleParser struct {
	words   []string
	ft      *flowType
	r       *Rule
	b       [FlowSpecSize]byte
	flowTyp uint32
	given   uint32
	firstAt map[uint32]int
	cookie  uint64
	// vfPos and queuePos are where vf and queue were given, or -1.
	vfPos, queuePos int
}

// context reads `context N` at word i and returns the index after it.
func (p *ruleParser) context(i int) (int, error) {
	words := p.words
	if i+1 >= len(words) {
		return i, syntaxErr(words, i, "context needs a value", "write context N with the RSS context id")
	}
	v, ok := parseCUint(words[i+1], 32)
	if !ok {
		return i, syntaxErr(words, i+1, "invalid context value: not a 32-bit number", "write context N with N a number, e.g. context 1")
	}
	if uint32(v) == EthRxfhContextAlloc {
		return i, syntaxErr(words, i+1, "context 0xffffffff is ETH_RXFH_CONTEXT_ALLOC, not a context a rule can use", "create the context first (ethtool -X DEV context new) and give its id")
	}
	// ethtool keeps no flag for context: the last one wins.
	p.r.RSSContext = uint32(v)
	p.flowTyp |= FlowRSS
	return i + 2, nil
}

// action reads one of actionWords (action, vf, queue, loc) and its value
// at word i and returns the index after it.
func (p *ruleParser) action(i int, act actionWord) (int, error) {
	words, w := p.words, p.words[i]
	if p.given&act.flag != 0 {
		return i, syntaxErr(words, i, w+" given twice (first as word "+fmt.Sprint(p.firstAt[act.flag]+1)+")", "give "+w+" once")
	}
	if i+1 >= len(words) {
		return i, syntaxErr(words, i, w+" needs a value", act.fix)
	}
	v, ok := parseCUint(words[i+1], act.bits)
	if !ok {
		return i, syntaxErr(words, i+1, "invalid "+w+" value: "+act.what, act.fix)
	}
	p.given |= act.flag
	p.firstAt[act.flag] = i
	switch w {
	case "action":
		p.cookie = v
	case "vf":
		if v == 255 {
			return i, syntaxErr(words, i+1, "vf 255 does not fit: ethtool stores N+1 in the 8-bit VF field of ring_cookie, so 256 overflows into bit 40 and the kernel reads VF field 0, the PF", "use a VF index 0-254 (the N of virtfnN)")
		}
		p.cookie = p.cookie&^RingVFMask | (v+1)<<RingVFShift
		p.vfPos = i
	case "queue":
		p.cookie = p.cookie&^RingQueueMask | v
		p.queuePos = i
	case "loc":
		binary.NativeEndian.PutUint32(p.b[offLocation:], uint32(v))
		p.r.HasLoc = true
	}
	i += 2
	if i < len(words) && (words[i] == "m" || words[i] == w+"-mask") {
		return i, syntaxErr(words, i, w+" takes no mask", "remove "+words[i]+" and its value")
	}
	return i, nil
}

// field reads a field of the flow type, its value and an optional mask at
// word i and returns the index after them.
func (p *ruleParser) field(i int) (int, error) {
	words, w := p.words, p.words[i]
	f, ok := p.ft.field(w)
	if !ok {
		return i, unknownField(words, i, p.ft)
	}
	if i+1 >= len(words) {
		return i, syntaxErr(words, i, w+" needs a value (ethtool 6.1 silently ignores a field without value at the end; vfbypass refuses it)", "write "+w+" "+exampleValue(f.kind)+" or remove "+w)
	}
	if p.given&f.flag != 0 {
		return i, syntaxErr(words, i, dupReason(p.ft, f, p.given, p.firstAt, words), "give each field once; on ip4/ip6 use either l4data/spi or src-port/dst-port")
	}
	val, ok := parseValue(f.kind, words[i+1])
	if !ok {
		return i, syntaxErr(words, i+1, "invalid "+w+" value: "+badValueReason(f.kind, words[i+1]), valueFix(f, words[i+1], false))
	}
	p.given |= f.flag
	for bit := uint32(1); bit != 0 && bit <= f.flag; bit <<= 1 {
		if f.flag&bit != 0 {
			if _, seen := p.firstAt[bit]; !seen {
				p.firstAt[bit] = i
			}
		}
	}
	n := f.kind.size()
	copy(p.b[f.off:f.off+n], val)
	for j := 0; j < n; j++ {
		p.b[f.moff+j] = 0xff
	}
	p.flowTyp |= f.ext
	i += 2
	if i < len(words) && (words[i] == "m" || words[i] == w+"-mask") {
		if i+1 >= len(words) {
			return i, syntaxErr(words, i, words[i]+" needs a mask value", "write "+words[i]+" MASK with the bits to ignore set, e.g. "+exampleMask(f.kind))
		}
		mask, ok := parseValue(f.kind, words[i+1])
		if !ok {
			return i, syntaxErr(words, i+1, "invalid "+w+" mask: "+badValueReason(f.kind, words[i+1]), valueFix(f, words[i+1], true))
		}
		for j := 0; j < n; j++ {
			p.b[f.moff+j] = ^mask[j]
		}
		i += 2
	}
	return i, nil
}

// checkRing refuses the combinations of action, vf and queue ethtool
// would take in a way the user did not mean.
func (p *ruleParser) checkRing() error {
	words := p.words
	if p.given&optRing != 0 && p.given&optRingQueue != 0 {
		return syntaxErr(words, p.queuePos, "action and queue are not compatible", "use either action N, or vf N queue M")
	}
	if p.given&optRing != 0 && p.given&optRingVF != 0 {
		return syntaxErr(words, p.vfPos, "action and vf are not compatible", "use either action N, or vf N queue M")
	}
	if p.given&optRingQueue != 0 && p.given&optRingVF == 0 {
		q := "M"
		if p.queuePos+1 < len(words) {
			q = words[p.queuePos+1]
		}
		return syntaxErr(words, p.queuePos, "queue without vf (ethtool 6.1 would steer to the PF's queue; vfbypass wants it said)", "add vf N (the VF index of virtfnN), or write action "+q+" for the PF's queue "+q)
	}
	return nil
}

// finish writes the flow type and the ring cookie into the spec and the
// spec into the rule.
func (p *ruleParser) finish() {
	if p.ft.typ == FlowIPv4User {
		p.b[ipVerOffset] = EthRxNfcIP4
	}
	binary.NativeEndian.PutUint32(p.b[offFlowType:], p.flowTyp)
	binary.NativeEndian.PutUint64(p.b[offRingCookie:], p.cookie)
	p.r.HasAction = p.given&(optRing|optRingVF|optRingQueue) != 0
	p.r.Spec = fromBytes(&p.b)
	if p.flowTyp&FlowRSS == 0 {
		p.r.RSSContext = 0
	}
}

// actionWord is what Parse knows of a word that sets ring_cookie or
// location: its flag, its value's width, and what to say of a bad value.
type actionWord struct {
	flag uint32
	bits uint
	what string
	fix  string
}

// actionWords are the words that set ring_cookie or location.
var actionWords = map[string]actionWord{
	"action": {optRing, 64, "not a 64-bit number", "write action N: a PF queue, -1 to drop, or (K+1)<<32|Q for VF K queue Q; or use vf K queue Q"},
	"vf":     {optRingVF, 8, "not a VF index 0-255", "write vf K with K the VF index of virtfnK (0-based)"},
	"queue":  {optRingQueue, 32, "not a 32-bit queue number", "write queue M with M the VF's RX queue, e.g. queue 0"},
	"loc":    {optLoc, 32, "not a 32-bit location", "write loc N with N below the table size, or leave loc out to let vfbypass pick the highest free location"},
}

// unknownField explains a word that is not a field of the flow type.
func unknownField(words []string, i int, ft *flowType) *SyntaxError {
	w := words[i]
	fields := make([]string, 0, len(ft.fields))
	for _, f := range ft.fields {
		fields = append(fields, f.name)
	}
	own := "fields of flow-type " + ft.name + ": " + strings.Join(fields, ", ") + ", action, vf, queue, loc, context"
	switch {
	case w == "m" || strings.HasSuffix(w, "-mask"):
		return syntaxErr(words, i, w+" must follow a field's value", "write FIELD VALUE m MASK, e.g. src-ip 10.0.0.0 m 0.0.0.255")
	case w == "tos" && strings.HasSuffix(ft.name, "6"):
		return syntaxErr(words, i, "IPv6 rules call the traffic class tclass", "write tclass instead of tos")
	case w == "tclass" && (strings.HasSuffix(ft.name, "4") || ft.name == "ether"):
		return syntaxErr(words, i, "tclass is the IPv6 traffic class", "write tos for IPv4 rules")
	}
	if others := flowTypesWith(w); len(others) > 0 {
		return syntaxErr(words, i, "flow-type "+ft.name+" has no field "+w+"; "+w+" is a field of "+strings.Join(others, ", "), "change the flow type or remove "+w+" ("+own+")")
	}
	return syntaxErr(words, i, "unknown word", "use the "+own)
}

func dupReason(ft *flowType, f field, given uint32, firstAt map[uint32]int, words []string) string {
	at := -1
	for bit := uint32(1); bit != 0 && bit <= f.flag; bit <<= 1 {
		if f.flag&bit != 0 && given&bit != 0 {
			if p, ok := firstAt[bit]; ok && (at < 0 || p < at) {
				at = p
			}
		}
	}
	if at >= 0 && words[at] != f.name {
		return f.name + " covers the same bytes as " + words[at] + " (word " + fmt.Sprint(at+1) + ") in flow-type " + ft.name
	}
	if at >= 0 {
		return f.name + " given twice (first as word " + fmt.Sprint(at+1) + ")"
	}
	return f.name + " given twice"
}

// parseValue reads a value or mask word of kind k into its big-endian bytes.
func parseValue(k valueKind, s string) ([]byte, bool) {
	switch k {
	case kindU8:
		v, ok := parseCUint(s, 8)
		return []byte{byte(v)}, ok
	case kindBE16:
		v, ok := parseCUint(s, 16)
		return binary.BigEndian.AppendUint16(nil, uint16(v)), ok
	case kindBE32:
		v, ok := parseCUint(s, 32)
		return binary.BigEndian.AppendUint32(nil, uint32(v)), ok
	case kindBE64:
		v, ok := parseCUint(s, 64)
		return binary.BigEndian.AppendUint64(nil, v), ok
	case kindIP4:
		a, ok := parseIPv4(s)
		return a[:], ok
	case kindIP6:
		a, ok := parseIPv6(s)
		return a[:], ok
	case kindMAC:
		m, ok := parseMAC(s)
		return m[:], ok
	}
	return nil, false
}

func badValueReason(k valueKind, s string) string {
	switch k {
	case kindU8:
		return "not a number 0-255 (decimal, 0x hex, 0 octal)"
	case kindBE16:
		return "not a number 0-65535 (decimal, 0x hex, 0 octal)"
	case kindBE32:
		return "not a 32-bit number (decimal, 0x hex, 0 octal)"
	case kindBE64:
		return "not a 64-bit number (decimal, 0x hex, 0 octal)"
	case kindIP4:
		switch {
		case strings.Contains(s, "/"):
			return "ethtool takes no /prefix"
		case strings.Contains(s, ":"):
			return "an IPv6 address in an IPv4 rule"
		}
		return "not an IPv4 address (four decimal parts, no leading zeros)"
	case kindIP6:
		switch {
		case strings.Contains(s, "/"):
			return "ethtool takes no /prefix"
		case strings.Contains(s, "%"):
			return "ethtool takes no %zone"
		}
		if _, ok := parseIPv4(s); ok {
			return "an IPv4 address in an IPv6 rule"
		}
		return "not an IPv6 address"
	case kindMAC:
		return "not a MAC address (six hex bytes separated by colons)"
	}
	return "invalid"
}

func exampleValue(k valueKind) string {
	switch k {
	case kindU8:
		return "6"
	case kindBE16:
		return "80"
	case kindBE32, kindBE64:
		return "0x1234"
	case kindIP4:
		return "192.0.2.1"
	case kindIP6:
		return "2001:db8::1"
	case kindMAC:
		return "02:00:00:00:00:01"
	}
	return "VALUE"
}

func exampleMask(k valueKind) string {
	switch k {
	case kindU8:
		return "m 0x0f"
	case kindBE16:
		return "m 0x00ff"
	case kindBE32:
		return "m 0x0000ffff"
	case kindBE64:
		return "m 0xffffffff00000000"
	case kindIP4:
		return "m 0.0.0.255"
	case kindIP6:
		return "m ::ffff:ffff:ffff:ffff"
	case kindMAC:
		return "m 00:00:00:ff:ff:ff"
	}
	return "m MASK"
}

// valueFix says what to write instead of a bad value or mask; for a CIDR
// prefix it spells out the ethtool mask (bits set = ignored).
func valueFix(f field, s string, isMask bool) string {
	if (f.kind == kindIP4 || f.kind == kindIP6) && strings.Contains(s, "/") {
		if p, err := netip.ParsePrefix(s); err == nil && (p.Addr().Is4() == (f.kind == kindIP4)) {
			return fmt.Sprintf("write %s %s m %s (ethtool's mask sets the bits to ignore)", f.name, p.Masked().Addr(), hostMask(p))
		}
		return "write the address and give the bits to ignore with m, e.g. " + f.name + " " + exampleValue(f.kind) + " " + exampleMask(f.kind)
	}
	switch {
	case f.kind == kindIP4 && strings.Contains(s, ":"):
		return "use an IPv6 flow type (tcp6, udp6, sctp6, ah6, esp6, ip6) for IPv6 addresses"
	case f.kind == kindIP6 && !strings.Contains(s, ":") && strings.Contains(s, "."):
		return "use an IPv4 flow type (tcp4, udp4, sctp4, ah4, esp4, ip4) for IPv4 addresses"
	}
	if isMask {
		return "give the mask in the field's own notation with the bits to IGNORE set, e.g. " + exampleMask(f.kind)
	}
	return "write " + f.name + " " + exampleValue(f.kind)
}

// hostMask is ethtool's inverted mask for a prefix: the host bits set.
func hostMask(p netip.Prefix) netip.Addr {
	bits := p.Bits()
	if p.Addr().Is4() {
		var m [4]byte
		for i := range m {
			m[i] = hostByte(bits, i)
		}
		return netip.AddrFrom4(m)
	}
	var m [16]byte
	for i := range m {
		m[i] = hostByte(bits, i)
	}
	return netip.AddrFrom16(m)
}

func hostByte(prefixBits, i int) byte {
	net := prefixBits - 8*i
	switch {
	case net >= 8:
		return 0
	case net <= 0:
		return 0xff
	}
	return 0xff >> net
}

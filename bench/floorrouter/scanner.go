package main

// scanner walks the elements of one JSON array just far enough to find a WAMP message's
// type, its request ID and where its arguments begin; it decodes nothing else.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// open consumes the array's '['.
func (s *scanner) open() bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '[' {
		s.i++
		return true
	}
	return false
}

// next moves to the next element: past the ',' that separates it from the one before.
func (s *scanner) next() bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ',' {
		s.i++
		s.space()
	}
	return s.i < len(s.b) && s.b[s.i] != ']'
}

// uint reads the next element as an unsigned integer.
func (s *scanner) uint() (uint64, bool) {
	if !s.next() {
		return 0, false
	}
	start, v := s.i, uint64(0)
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		v = v*10 + uint64(s.b[s.i]-'0')
		s.i++
	}
	return v, s.i > start
}

// skip passes over the next element, whatever it is.
func (s *scanner) skip() bool {
	if !s.next() {
		return false
	}
	depth, inString := 0, false
	for ; s.i < len(s.b); s.i++ {
		c := s.b[s.i]
		switch {
		case inString:
			if c == '\\' {
				s.i++
			} else if c == '"' {
				inString = false
				if depth == 0 {
					s.i++
					return true
				}
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			if depth == 0 {
				return true // the end of the message: a number or literal ended here
			}
			depth--
			if depth == 0 {
				s.i++
				return true
			}
		case depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return true
		}
	}
	return false
}

// skipN passes over the next n elements.
func (s *scanner) skipN(n int) bool {
	for range n {
		if !s.skip() {
			return false
		}
	}
	return true
}

// rest is what follows the elements read so far: "]" or ", more elements ]".
func (s *scanner) rest() []byte { return s.b[s.i:] }

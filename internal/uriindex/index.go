// Package uriindex finds the subscriptions or registrations whose URI patterns match a URI,
// without scanning them: exact URIs in a map, prefixes by the lengths in use, wildcards in a
// trie of URI components. The broker asks for every match, the dealer for the best one.
package uriindex

import (
	"slices"
	"strings"

	"github.com/pawl-wamp/pawl/wamp"
)

// Index maps URI patterns (with a match policy) to values. It is not safe for concurrent
// use: the owner guards it (the broker and dealer keep a lock-free path for exact URIs).
type Index[T any] struct {
	exact      map[wamp.URI]T
	prefix     map[wamp.URI]T
	prefixLens []int       // distinct prefix lengths in use, longest first
	lenCount   map[int]int // prefixes held per length, so Delete never scans them
	wildcard   node[T]
	wildcards  int
}

type node[T any] struct {
	children map[string]*node[T] // "" is the wildcard component
	value    T
	has      bool
	pattern  wamp.URI
}

// New returns an empty index.
func New[T any]() *Index[T] {
	return &Index[T]{exact: map[wamp.URI]T{}, prefix: map[wamp.URI]T{}, lenCount: map[int]int{}}
}

// Len is the number of patterns held.
func (ix *Index[T]) Len() int { return len(ix.exact) + len(ix.prefix) + ix.wildcards }

// Patterns reports whether any prefix or wildcard pattern is held.
func (ix *Index[T]) Patterns() bool { return len(ix.prefix)+ix.wildcards > 0 }

// Get returns the value stored for exactly this pattern and policy.
func (ix *Index[T]) Get(pattern wamp.URI, match string) (T, bool) {
	var zero T
	switch match {
	case wamp.MatchPrefix:
		v, ok := ix.prefix[pattern]
		return v, ok
	case wamp.MatchWildcard:
		n := ix.walk(pattern, false)
		if n == nil || !n.has {
			return zero, false
		}
		return n.value, true
	default:
		v, ok := ix.exact[pattern]
		return v, ok
	}
}

// Put stores v for a pattern and policy, replacing what was there.
func (ix *Index[T]) Put(pattern wamp.URI, match string, v T) {
	switch match {
	case wamp.MatchPrefix:
		if _, ok := ix.prefix[pattern]; !ok {
			if ix.lenCount[len(pattern)]++; ix.lenCount[len(pattern)] == 1 {
				ix.prefixLens = append(ix.prefixLens, len(pattern))
				slices.SortFunc(ix.prefixLens, func(a, b int) int { return b - a })
			}
		}
		ix.prefix[pattern] = v
	case wamp.MatchWildcard:
		n := ix.walk(pattern, true)
		if !n.has {
			ix.wildcards++
		}
		n.value, n.has, n.pattern = v, true, pattern
	default:
		ix.exact[pattern] = v
	}
}

// Delete removes a pattern.
func (ix *Index[T]) Delete(pattern wamp.URI, match string) {
	switch match {
	case wamp.MatchPrefix:
		if _, ok := ix.prefix[pattern]; !ok {
			return
		}
		delete(ix.prefix, pattern)
		// Counted per length: a session with many prefix subscriptions leaves in linear time.
		if ix.lenCount[len(pattern)]--; ix.lenCount[len(pattern)] == 0 {
			delete(ix.lenCount, len(pattern))
			ix.prefixLens = slices.DeleteFunc(ix.prefixLens, func(l int) bool { return l == len(pattern) })
		}
	case wamp.MatchWildcard:
		ix.deleteWildcard(pattern)
	default:
		delete(ix.exact, pattern)
	}
}

// Best returns the value that wins for uri: an exact match, else the longest prefix, else
// the wildcard pattern whose concrete components match earliest (a concrete component beats
// a wildcard at the same position).
func (ix *Index[T]) Best(uri wamp.URI) (T, wamp.URI, string, bool) {
	if v, ok := ix.exact[uri]; ok {
		return v, uri, wamp.MatchExact, true
	}
	for _, l := range ix.prefixLens {
		if l <= len(uri) {
			if v, ok := ix.prefix[uri[:l]]; ok {
				return v, uri[:l], wamp.MatchPrefix, true
			}
		}
	}
	var zero T
	if ix.wildcards == 0 {
		return zero, "", "", false
	}
	if n := bestWildcard(&ix.wildcard, components(uri)); n != nil {
		return n.value, n.pattern, wamp.MatchWildcard, true
	}
	return zero, "", "", false
}

// Each calls f for every pattern that matches uri, in no particular order.
func (ix *Index[T]) Each(uri wamp.URI, f func(v T, pattern wamp.URI, match string)) {
	if v, ok := ix.exact[uri]; ok {
		f(v, uri, wamp.MatchExact)
	}
	for _, l := range ix.prefixLens {
		if l <= len(uri) {
			if v, ok := ix.prefix[uri[:l]]; ok {
				f(v, uri[:l], wamp.MatchPrefix)
			}
		}
	}
	if ix.wildcards > 0 {
		eachWildcard(&ix.wildcard, components(uri), f)
	}
}

// All calls f for every pattern held.
func (ix *Index[T]) All(f func(v T, pattern wamp.URI, match string)) {
	for p, v := range ix.exact {
		f(v, p, wamp.MatchExact)
	}
	for p, v := range ix.prefix {
		f(v, p, wamp.MatchPrefix)
	}
	var walk func(n *node[T])
	walk = func(n *node[T]) {
		if n.has {
			f(n.value, n.pattern, wamp.MatchWildcard)
		}
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(&ix.wildcard)
}

func components(u wamp.URI) []string { return strings.Split(string(u), ".") }

// walk finds (or, with create, makes) the trie node of a wildcard pattern.
func (ix *Index[T]) walk(pattern wamp.URI, create bool) *node[T] {
	n := &ix.wildcard
	for _, c := range components(pattern) {
		next := n.children[c]
		if next == nil {
			if !create {
				return nil
			}
			if n.children == nil {
				n.children = map[string]*node[T]{}
			}
			next = &node[T]{}
			n.children[c] = next
		}
		n = next
	}
	return n
}

func (ix *Index[T]) deleteWildcard(pattern wamp.URI) {
	comps := components(pattern)
	path := make([]*node[T], 0, len(comps)+1)
	n := &ix.wildcard
	path = append(path, n)
	for _, c := range comps {
		if n = n.children[c]; n == nil {
			return
		}
		path = append(path, n)
	}
	if !n.has {
		return
	}
	var zero T
	n.value, n.has, n.pattern = zero, false, ""
	ix.wildcards--
	// Prune nodes left without values or children.
	for i := len(path) - 1; i > 0; i-- {
		if path[i].has || len(path[i].children) > 0 {
			break
		}
		delete(path[i-1].children, comps[i-1])
	}
}

func bestWildcard[T any](n *node[T], comps []string) *node[T] {
	if len(comps) == 0 {
		if n.has {
			return n
		}
		return nil
	}
	if c := n.children[comps[0]]; c != nil && comps[0] != "" {
		if found := bestWildcard(c, comps[1:]); found != nil {
			return found
		}
	}
	if c := n.children[""]; c != nil {
		return bestWildcard(c, comps[1:])
	}
	return nil
}

func eachWildcard[T any](n *node[T], comps []string, f func(v T, pattern wamp.URI, match string)) {
	if len(comps) == 0 {
		if n.has {
			f(n.value, n.pattern, wamp.MatchWildcard)
		}
		return
	}
	if c := n.children[comps[0]]; c != nil && comps[0] != "" {
		eachWildcard(c, comps[1:], f)
	}
	if c := n.children[""]; c != nil {
		eachWildcard(c, comps[1:], f)
	}
}

package httpbridge

import (
	"net/http"
	"slices"
	"strconv"
)

// cors adds CORS headers for an allowed origin and answers preflight requests. It reports
// whether the request has been answered.
func (s *Service) cors(w http.ResponseWriter, r *http.Request) bool {
	if len(s.cfg.CORSOrigins) == 0 {
		return false
	}
	origin := r.Header.Get("Origin")
	w.Header().Add("Vary", "Origin")
	if origin == "" {
		return false
	}
	allowed := slices.Contains(s.cfg.CORSOrigins, "*") || slices.Contains(s.cfg.CORSOrigins, origin)
	if !allowed {
		if r.Method == http.MethodOptions {
			s.writeRefusal(w, r, refuse(http.StatusForbidden, ErrOrigin, "origin "+strconv.Quote(origin)+" is not allowed"))
			return true
		}
		return false // no CORS headers: the browser keeps the answer from the page
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	if r.Method != http.MethodOptions {
		return false
	}
	h.Set("Access-Control-Allow-Methods", "POST, PUT, OPTIONS")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	}
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

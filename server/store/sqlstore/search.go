package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"minichat/server/protocol"
	"minichat/server/store"
)

// Search finds chat messages; see store.Store. Each dialect searches its
// own full-text index.
func (s *Store) Search(ctx context.Context, req store.SearchRequest) ([]protocol.Message, error) {
	if len(req.Terms) == 0 {
		return nil, fmt.Errorf("search without terms: %w", store.ErrInvalid)
	}
	for _, t := range req.Terms {
		if strings.TrimSpace(t) == "" {
			return nil, fmt.Errorf("empty search term: %w", store.ErrInvalid)
		}
	}
	q, err := s.reads()
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	limit := req.Limit
	if limit <= 0 {
		limit = protocol.MaxSearch
	}
	msgs, err := s.d.search(ctx, q, req, limit)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	out, err := s.messages(ctx, q, msgs)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return out, nil
}

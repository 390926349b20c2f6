package mapi

import "context"

// TEMPORARY until the sandbox-money branch lands.
type MoneyRequest struct {
	ClientOrderID, OrderID string
	Amount                 Amount
	Currency, Comment      string
}

func (c *Client) Capture(ctx context.Context, r MoneyRequest) (*OrderResponse, error) { return nil, nil }
func (c *Client) Return(ctx context.Context, r MoneyRequest) (*OrderResponse, error)  { return nil, nil }

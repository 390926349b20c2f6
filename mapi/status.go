package mapi

// Status is a transaction status as the gateway reports it (§7.1).
type Status string

const (
	StatusApproved      Status = "approved"
	StatusDeclined      Status = "declined"
	StatusFiltered      Status = "filtered" // declined by anti-fraud
	StatusError         Status = "error"
	StatusProcessing    Status = "processing"
	StatusUnknown       Status = "unknown"
	StatusChainDeclined Status = "chain_declined"
)

// Final reports whether the gateway calls this status final. Statuses outside the documented
// list are not final: the docs say to keep them open and escalate.
func (s Status) Final() bool {
	switch s {
	case StatusApproved, StatusDeclined, StatusFiltered, StatusError:
		return true
	}
	return false
}

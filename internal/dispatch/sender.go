package dispatch

import (
	"errors"
	"fmt"
	"strings"
)

// Channel is how the code reaches the user.
type Channel string

const (
	// SMS sends a text message (Messages API or a Studio flow).
	SMS Channel = "sms"
	// Voice places a call that reads the code (Calls API or a Studio flow).
	Voice Channel = "voice"
)

// ErrNoSender is matched (errors.Is) by every *NoSenderError.
var ErrNoSender = errors.New("no sender")

// NoSenderError is returned by SelectSender when no sender of the account may
// send on the channel to the region. Its text is "no sender can send <channel>
// to <region>".
type NoSenderError struct {
	Channel Channel
	Region  string
}

func (e *NoSenderError) Error() string {
	region := e.Region
	if region == "" {
		region = "an unknown region"
	}
	return fmt.Sprintf("no sender can send %s to %s", e.Channel, region)
}

// Is makes errors.Is(err, ErrNoSender) true.
func (e *NoSenderError) Is(target error) bool { return target == ErrNoSender }

// SelectSender chooses the From number or the messaging service for one message.
//
// Rule: for SMS, the account's MessagingServiceSID wins if set; otherwise among
// senders capable of the channel, those listing toRegion in Countries first,
// then those with no Countries; within each group by type preference short_code
// > toll_free > standard for SMS (throughput) and standard > toll_free for voice
// (short codes can't call), then by order of declaration; a sender whose
// Countries exclude toRegion is never used; if the account has no senders,
// callerFrom (already normalized by the caller) is used; otherwise an error
// "no sender can send <channel> to <region>".
//
// toRegion is an ISO region ("IN"), compared without regard to case; empty when
// unknown, in which case only senders without Countries qualify. The choice is
// deterministic and SelectSender does not allocate unless it fails.
func SelectSender(a *Account, channel Channel, toRegion string, callerFrom string) (from, messagingServiceSID string, err error) {
	if channel != SMS && channel != Voice {
		return "", "", fmt.Errorf("unknown channel %q", channel)
	}
	if channel == SMS && a.MessagingServiceSID != "" {
		return "", a.MessagingServiceSID, nil
	}
	if len(a.Senders) == 0 {
		if callerFrom == "" {
			return "", "", &NoSenderError{Channel: channel, Region: toRegion}
		}
		return callerFrom, "", nil
	}
	best, bestGroup, bestRank := -1, 0, 0
	for i := range a.Senders {
		s := &a.Senders[i]
		rank := typeRank(s.Type, channel)
		if rank < 0 || !s.can(channel) {
			continue
		}
		group := 1 // no Countries: any region
		if len(s.Countries) > 0 {
			if !s.serves(toRegion) {
				continue
			}
			group = 0
		}
		if best < 0 || group < bestGroup || group == bestGroup && rank < bestRank {
			best, bestGroup, bestRank = i, group, rank
		}
	}
	if best < 0 {
		return "", "", &NoSenderError{Channel: channel, Region: toRegion}
	}
	return a.Senders[best].Number, "", nil
}

// typeRank orders sender types for a channel; -1 means never.
func typeRank(t SenderType, channel Channel) int {
	if channel == SMS {
		switch t {
		case ShortCode:
			return 0
		case TollFree:
			return 1
		case Standard:
			return 2
		}
		return -1
	}
	switch t {
	case Standard:
		return 0
	case TollFree:
		return 1
	}
	return -1 // short codes cannot call
}

func (s *Sender) can(channel Channel) bool {
	if channel == SMS {
		return s.SMS
	}
	return s.Voice && s.Type != ShortCode
}

func (s *Sender) serves(region string) bool {
	if region == "" {
		return false
	}
	for _, c := range s.Countries {
		if strings.EqualFold(c, region) {
			return true
		}
	}
	return false
}

// ValidatePool checks at provisioning that an account can serve each channel a
// route uses: every sender must be well-formed (a short code marked voice fails
// with its index), and each channel needs a messaging service (SMS only), a
// capable sender, or no senders at all (the caller's From is then used).
func ValidatePool(a *Account, channels ...Channel) error {
	for i := range a.Senders {
		if err := a.Senders[i].check(); err != nil {
			return &FieldError{Account: a.Name, Field: fmt.Sprintf("Senders[%d].%s", i, err.Field), Reason: err.Reason}
		}
	}
	for _, ch := range channels {
		if ch != SMS && ch != Voice {
			return fmt.Errorf("account %q: unknown channel %q", a.Name, ch)
		}
		if len(a.Senders) == 0 || ch == SMS && a.MessagingServiceSID != "" {
			continue
		}
		ok := false
		for i := range a.Senders {
			if a.Senders[i].can(ch) {
				ok = true
				break
			}
		}
		if !ok {
			return &FieldError{Account: a.Name, Field: "Senders",
				Reason: fmt.Sprintf("none of the %d senders can be used for %s", len(a.Senders), ch)}
		}
	}
	return nil
}

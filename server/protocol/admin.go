package protocol

// The administration API (/api/admin/...): accounts and the instance's
// runtime settings, for administrators only. An addition to the contract.

// AdminUser is an account as an administrator sees it
// (GET /api/admin/users): the User and whether it is disabled.
type AdminUser struct {
	User     User `json:"user"`
	Disabled bool `json:"disabled"`
}

// AdminUsers is a page of accounts, by name without regard to case; Next
// is the cursor of the following page, null after the last one.
type AdminUsers struct {
	Users []AdminUser `json:"users"`
	Next  *string     `json:"next"`
}

// Settings are the instance's runtime settings (GET and PATCH
// /api/admin/settings): the registration mode ("open", "invite",
// "closed"; the --registration flag until an administrator sets one) and
// the instance's name (shown in page titles and on the sign-in screen).
type Settings struct {
	Registration string `json:"registration"`
	Name         string `json:"name"`
}

// SettingsPatch changes some of the Settings; absent fields stay.
type SettingsPatch struct {
	Registration *string `json:"registration,omitempty"`
	Name         *string `json:"name,omitempty"`
}

// Instance names: 1–MaxInstanceName code points after trimming, no
// control characters; DefaultInstanceName until an administrator sets one.
const (
	MaxInstanceName     = 64
	DefaultInstanceName = "minichat"
)

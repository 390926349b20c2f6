package mapi_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/example/mposportal/mapi"
)

// The spec's worked examples (§2.1, §2.2) are the contract both sides are held to.
const docKey = "B17F59B4-A7DC-41B4-8FF9-37D986B43D20"

func TestControlVectors(t *testing.T) {
	tests := []struct{ name, got, want string }{
		{"regular sale (docs)", mapi.Control("1111", "902B4FF5", mapi.Amount(1042).Minor(), "john.smith@gmail.com", docKey), "c6bdd88a78834ef4b863b088827a459f039e8257"},
		{"status", mapi.StatusControl("merchantlogin", "902B4FF5", "1969106", docKey), "99f4936de634492f3ea1a4df9fc7afe7131145f7"},
		{"status without orderid", mapi.StatusControl("merchantlogin", "902B4FF5", "", docKey), "7b1771f5f11c4bcaa803a207766b74fc8cfa352f"},
		{"callback approved", mapi.CallbackControl("approved", "1969106", "902B4FF5", docKey), "269875c91d668e21991daa219cc4805c351eacd2"},
		{"callback declined", mapi.CallbackControl("declined", "1969106", "902B4FF5", docKey), "032cd1d10b52b0a769c91c7e4af903f5c20b100b"},
		{"capture/return (§13.1)", mapi.MoneyControl("merchantlogin", "902B4FF5", "1969106", 1042, "EUR", docKey), "ac70e541e107e8f3a287a073ed6922fa10771429"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, tt.got, tt.want)
		}
	}
}

func TestControlEqual(t *testing.T) {
	want := "269875c91d668e21991daa219cc4805c351eacd2"
	for _, tt := range []struct {
		got string
		ok  bool
	}{
		{want, true},
		{strings.ToUpper(want), true},
		{"269875C91d668e21991daa219cc4805c351eacd2", true},
		{"269875c91d668e21991daa219cc4805c351eacd3", false},
		{want[:39], false},
		{"", false},
	} {
		if got := mapi.ControlEqual(tt.got, want); got != tt.ok {
			t.Errorf("ControlEqual(%q) = %v, want %v", tt.got, got, tt.ok)
		}
	}
}

type oauthVector struct {
	name, url  string
	params     url.Values
	normalized string
	base       string // empty: not printed in the spec
	signature  string
	header     string // empty: not printed in the spec
}

var oauthVectors = []oauthVector{
	{
		name: "close-day",
		url:  "https://gw.example.com/paynet/api/v2/close-day/1234",
		params: url.Values{"day_close_request_id": {"CD20240115A1"}, "sale_approved_count": {"3"},
			"sale_approved_sum": {"31.26"}},
		normalized: "day_close_request_id=CD20240115A1&oauth_consumer_key=merchantlogin&oauth_nonce=y3qlvMPky7g&oauth_signature_method=HMAC-SHA1&oauth_timestamp=1669966913&oauth_version=1.0&sale_approved_count=3&sale_approved_sum=31.26",
		base:       "POST&https%3A%2F%2Fgw.example.com%2Fpaynet%2Fapi%2Fv2%2Fclose-day%2F1234&day_close_request_id%3DCD20240115A1%26oauth_consumer_key%3Dmerchantlogin%26oauth_nonce%3Dy3qlvMPky7g%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1669966913%26oauth_version%3D1.0%26sale_approved_count%3D3%26sale_approved_sum%3D31.26",
		signature:  "ou+506Mp37QyxDJzjijFw/wdOFE=",
		header:     `OAuth realm="",oauth_version="1.0",oauth_consumer_key="merchantlogin",oauth_timestamp="1669966913",oauth_nonce="y3qlvMPky7g",oauth_signature_method="HMAC-SHA1",oauth_signature="ou%2B506Mp37QyxDJzjijFw%2FwdOFE%3D"`,
	},
	{
		name: "mpos sale",
		url:  "https://gw.example.com/paynet/mapi/v1/sale/1234",
		params: url.Values{"client_orderid": {"902B4FF5"}, "order_desc": {"Coffee x2"}, "amount": {"10.42"},
			"currency": {"EUR"}, "address1": {"1 Main St"}, "city": {"Riga"}, "zip_code": {"LV-1010"}, "country": {"LV"},
			"email": {"john.smith@example.com"}, "ipaddress": {"192.0.2.10"}, "device_serial_number": {"MPOS-0001"},
			"ksn": {"FFFF9876543210E00001"}, "encrypted_data": {"A1B2C3D4E5F60718"}},
		normalized: "address1=1%20Main%20St&amount=10.42&city=Riga&client_orderid=902B4FF5&country=LV&currency=EUR&device_serial_number=MPOS-0001&email=john.smith%40example.com&encrypted_data=A1B2C3D4E5F60718&ipaddress=192.0.2.10&ksn=FFFF9876543210E00001&oauth_consumer_key=merchantlogin&oauth_nonce=y3qlvMPky7g&oauth_signature_method=HMAC-SHA1&oauth_timestamp=1669966913&oauth_version=1.0&order_desc=Coffee%20x2&zip_code=LV-1010",
		signature:  "ztxvgLlmIRgDgTubGx5VYWQnkvM=",
	},
}

func TestOAuthVectorsSign(t *testing.T) {
	for _, v := range oauthVectors {
		params := cloneValues(v.params)
		o, err := mapi.SignRequest("POST", v.url, params, "merchantlogin", docKey, "y3qlvMPky7g", time.Unix(1669966913, 0))
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		base, _ := mapi.BaseString("POST", v.url, params)
		wantBase := v.base
		if wantBase == "" {
			wantBase = "POST&" + mapi.PercentEncode(v.url) + "&" + mapi.PercentEncode(v.normalized)
		}
		if base != wantBase {
			t.Errorf("%s: base string\n got %s\nwant %s", v.name, base, wantBase)
		}
		if o.Signature != v.signature {
			t.Errorf("%s: signature %s, want %s", v.name, o.Signature, v.signature)
		}
		if v.header != "" && o.Header() != v.header {
			t.Errorf("%s: header\n got %s\nwant %s", v.name, o.Header(), v.header)
		}
		if !strings.Contains(o.Header(), `oauth_signature="`+mapi.PercentEncode(v.signature)+`"`) {
			t.Errorf("%s: header %s does not carry the percent-encoded signature", v.name, o.Header())
		}
		for _, k := range []string{"oauth_consumer_key", "oauth_nonce", "oauth_signature_method", "oauth_timestamp", "oauth_version"} {
			if params.Get(k) == "" {
				t.Errorf("%s: body lacks %s", v.name, k)
			}
		}
		if params.Has("oauth_signature") {
			t.Errorf("%s: oauth_signature must not be in the body", v.name)
		}
	}
}

func TestOAuthVectorsVerify(t *testing.T) {
	for _, v := range oauthVectors {
		params := cloneValues(v.params)
		o, err := mapi.SignRequest("POST", v.url, params, "merchantlogin", docKey, "y3qlvMPky7g", time.Unix(1669966913, 0))
		if err != nil {
			t.Fatal(err)
		}
		header := o.Header()
		if _, err := mapi.VerifyRequest("POST", v.url, header, params, docKey); err != nil {
			t.Errorf("%s: a correctly signed request was refused: %v", v.name, err)
		}
		// The URL as the client saw it may differ in scheme/host case and default port.
		if _, err := mapi.VerifyRequest("POST", strings.Replace(v.url, "https://gw.example.com", "HTTPS://GW.example.com:443", 1), header, params, docKey); err != nil {
			t.Errorf("%s: host case / default port changed the signature: %v", v.name, err)
		}
		refuse := map[string]func() (string, string, url.Values, string){
			"tampered body": func() (string, string, url.Values, string) {
				p := cloneValues(params)
				for k := range v.params {
					p.Set(k, p.Get(k)+"1")
					break
				}
				return v.url, header, p, docKey
			},
			"added body parameter": func() (string, string, url.Values, string) {
				p := cloneValues(params)
				p.Set("extra", "1")
				return v.url, header, p, docKey
			},
			"other key": func() (string, string, url.Values, string) {
				return v.url, header, params, strings.Replace(docKey, "B17F", "B17E", 1)
			},
			"body nonce differs from header": func() (string, string, url.Values, string) {
				p := cloneValues(params)
				p.Set("oauth_nonce", "other")
				return v.url, header, p, docKey
			},
			"other URL": func() (string, string, url.Values, string) {
				return strings.Replace(v.url, "1234", "1235", 1), header, params, docKey
			},
			"PLAINTEXT method": func() (string, string, url.Values, string) {
				return v.url, strings.Replace(header, "HMAC-SHA1", "PLAINTEXT", 1), params, docKey
			},
			"no header": func() (string, string, url.Values, string) { return v.url, "", params, docKey },
			"bearer header": func() (string, string, url.Values, string) {
				return v.url, "Bearer abc", params, docKey
			},
		}
		for name, f := range refuse {
			u, h, p, k := f()
			if _, err := mapi.VerifyRequest("POST", u, h, p, k); !errors.Is(err, mapi.ErrBadSignature) {
				t.Errorf("%s / %s: VerifyRequest = %v, want ErrBadSignature", v.name, name, err)
			}
		}
		if _, err := mapi.VerifyRequest("GET", v.url, header, params, docKey); err == nil {
			t.Errorf("%s: signature verified for another HTTP method", v.name)
		}
	}
}

func TestParseOAuthHeaderRoundTrip(t *testing.T) {
	o := mapi.OAuth{ConsumerKey: "login with space&amp", Nonce: "n+/=", Timestamp: "1", SignatureMethod: "HMAC-SHA1", Version: "1.0", Signature: "ab+/cd=="}
	got, err := mapi.ParseOAuthHeader(o.Header())
	if err != nil || got != o {
		t.Fatalf("ParseOAuthHeader(Header()) = %+v, %v; want %+v", got, err, o)
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

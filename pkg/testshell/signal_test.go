package testshell

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want Signal
		ok   bool
	}{
		{"<LAVA_SIGNAL_STARTRUN 0_smoke 1234-abcd>", Signal{StartRun, []string{"0_smoke", "1234-abcd"}}, true},
		{"  <LAVA_SIGNAL_ENDRUN 0_smoke 1234>", Signal{EndRun, []string{"0_smoke", "1234"}}, true},
		{"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=a RESULT=pass MEASUREMENT=1.5 UNITS=s>", Signal{TestCase, []string{"TEST_CASE_ID=a", "RESULT=pass", "MEASUREMENT=1.5", "UNITS=s"}}, true},
		{"<LAVA_SIGNAL_TESTSET START set1>", Signal{TestSet, []string{"START", "set1"}}, true},
		{"<LAVA_SIGNAL_TESTRAISE disk is full>", Signal{TestRaise, []string{"disk", "is", "full"}}, true},
		{"<LAVA_TEST_RUNNER EXIT>", Signal{Name: RunnerExit}, true},
		{"<LAVA_TEST_RUNNER INSTALL_FAIL>", Signal{Name: RunnerInstallFail}, true},
		// Echoes and traces never match.
		{"root@dut:~# echo <LAVA_SIGNAL_TESTCASE TEST_CASE_ID=a RESULT=pass>", Signal{}, false},
		{"+ echo <LAVA_SIGNAL_ENDRUN 0_smoke 1234>", Signal{}, false},
		{"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=a RESULT=pass", Signal{}, false},
		{"<LAVA_SIGNAL_STARTRUN>", Signal{}, false},
		{"<LAVA_SIGNAL_ >", Signal{}, false},
		{"<LAVA_TEST_RUNNER OTHER>", Signal{}, false},
		{"", Signal{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseLine(tt.line)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseLine(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCleanLine(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain\r\r", "plain"},
		{"\x1b[1;32m<LAVA_SIGNAL_X y>\x1b[0m\r", "<LAVA_SIGNAL_X y>"},
		{"\x1b]0;title\x07text", "text"},
		{"\x1b]0;title\x1b\\text", "text"},
		{"a\x1bcb", "ab"},
		{"trailing\x1b", "trailing"},
		{"\x1b[12;", ""},
		{"\x1b[unterminated", "nterminated"},
	}
	for _, tt := range tests {
		if got := CleanLine(tt.in); got != tt.want {
			t.Errorf("CleanLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseTestCase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		params []string
		fixup  map[string]string
		want   Result
		err    bool
	}{
		{"pass", []string{"TEST_CASE_ID=a", "RESULT=pass"}, nil, Result{ID: "a", Result: "pass"}, false},
		{"measurement", []string{"TEST_CASE_ID=b", "RESULT=fail", "MEASUREMENT=1.5", "UNITS=s"}, nil,
			Result{ID: "b", Result: "fail", Measurement: 1.5, HasMeasurement: true, Units: "s"}, false},
		{"fixup", []string{"TEST_CASE_ID=c", "RESULT=PASS"}, map[string]string{"PASS": "pass"}, Result{ID: "c", Result: "pass"}, false},
		{"bad result", []string{"TEST_CASE_ID=d", "RESULT=ok"}, nil, Result{}, true},
		{"no id", []string{"RESULT=pass"}, nil, Result{}, true},
		{"no result", []string{"TEST_CASE_ID=e"}, nil, Result{}, true},
		{"malformed", []string{"TEST_CASE_ID"}, nil, Result{}, true},
		{"bad measurement", []string{"TEST_CASE_ID=f", "RESULT=pass", "MEASUREMENT=x"}, nil, Result{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTestCase(tt.params, tt.fixup)
			if tt.err {
				if !errors.Is(err, ErrBadResult) {
					t.Fatalf("err = %v, want ErrBadResult", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestPattern(t *testing.T) {
	t.Parallel()
	p, err := CompilePattern(`(?P<test_case_id>\w+):\s+(?P<result>PASS|FAIL)(\s+(?P<measurement>[0-9.]+))?`,
		map[string]string{"PASS": "pass", "FAIL": "fail"})
	if err != nil {
		t.Fatal(err)
	}
	r, ok, err := p.Match("boot_time: PASS 3.25")
	if !ok || err != nil || r.ID != "boot_time" || r.Result != "pass" || !r.HasMeasurement || r.Measurement != 3.25 {
		t.Errorf("got %+v %v %v", r, ok, err)
	}
	if _, ok, _ := p.Match("nothing here"); ok {
		t.Error("unexpected match")
	}
	if _, err := CompilePattern(`(?P<x`, nil); err == nil {
		t.Error("bad pattern compiled")
	}
}

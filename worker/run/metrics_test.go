package run

import (
	"io"
	"testing"

	"golava/pkg/metrics"
)

func TestMeteredSinkWritesRunReport(t *testing.T) {
	t.Parallel()
	cfg := Config{OutputDir: t.TempDir(), Stdout: io.Discard}.withDefaults()
	sink, closeSink := cfg.meteredSink()
	log := NewLogger(sink)
	log.Target("U-Boot 2023")      // 11 bytes
	log.Target(`say "hi" \ there`) // escaping must not count
	log.Infof("not console")
	log.Results(map[string]any{"definition": "lava", "case": "deploy-images", "duration": "1.50", "result": "pass"})
	log.Results(map[string]any{"definition": "lava", "case": "job", "result": "pass"})   // no duration
	log.Results(map[string]any{"definition": "0_smoke", "case": "ls", "result": "fail"}) // a test case
	log.Results(map[string]any{"definition": "lava", "case": "boot", "duration": "x"})   // garbage
	if err := closeSink(); err != nil {
		t.Fatal(err)
	}
	r, err := metrics.ReadRunReport(cfg.OutputDir)
	if err != nil {
		t.Fatal(err)
	}
	if r.ConsoleLines != 2 || r.ConsoleBytes != int64(len("U-Boot 2023")+len(`say "hi" \ there`)) {
		t.Errorf("console = %d lines %d bytes", r.ConsoleLines, r.ConsoleBytes)
	}
	if len(r.Actions) != 1 || r.Actions[0] != (metrics.ActionTiming{Name: "deploy-images", Seconds: 1.5, Result: "pass"}) {
		t.Errorf("actions = %+v", r.Actions)
	}
}

package jobdef

import (
	"regexp"
	"sort"
	"sync"
)

// Per-action schemas: deploy by "to", boot by "method", test by shape, as
// lava-common's schemas/deploy, boot and test modules define them.

var (
	dockerImageRe = regexp.MustCompile(`^[a-z0-9]+[a-z0-9._/:-]*[a-z0-9]+(:[a-zA-Z0-9_]+[a-zA-Z0-9._-]*)?$`)
	dockerImage   = strS{re: dockerImageRe, reMsg: "invalid docker image name"}
	testNameRe    = regexp.MustCompile(`^[-_a-zA-Z0-9.]+$`)
	testName      = strS{re: testNameRe, reMsg: "expected a name of letters, digits, '-', '_' and '.'"}
	nonEmptyStr   = strS{min: 1}
)

func dockerS(imageKey string) *mapS {
	return mapOf(req(imageKey, dockerImage), opt("local", boolean),
		opt("container_name", str), opt("network_from", str))
}

// urlS is a downloadable resource, optionally with overlays to apply to an
// image of a known format.
func urlS(extra ...field) schema {
	base := []field{
		req("url", str), opt("headers", anyDict),
		opt("compression", anyOf(enumS{"bz2", "gz", "xz", "zip", "zstd"}, nullS{})),
		opt("archive", enumS{"tar"}),
		opt("md5sum", str), opt("sha256sum", str), opt("sha512sum", str),
	}
	plain := mapOf(append(append([]field{}, base...), extra...)...)
	overlay := mapOf(append(append([]field{}, base...),
		req("format", enumS{"file", "tar"}), req("path", str))...)
	withOverlays := plain.with(
		req("format", enumS{"cpio.newc", "ext4", "tar"}),
		opt("partition", integer), opt("sparse", boolean),
		req("overlays", &mapS{fields: []field{opt("lava", boolean)}, rest: overlay}),
	)
	return anyS{alts: []schema{plain, withOverlays}}
}

// imagesS is a mapping of image name to resource with at least one entry.
func imagesS(item schema) schema {
	return nonEmptyMap{&mapS{rest: item}, "'images' is empty"}
}

// nonEmptyMap requires at least one key.
type nonEmptyMap struct {
	*mapS
	msg string
}

func (s nonEmptyMap) check(c *checker, v *value, path string) {
	s.mapS.check(c, v, path)
	if v.kind == kindMap && len(v.keys) == 0 {
		c.add(v, path, "%s", s.msg)
	}
}

func (s nonEmptyMap) jsonSchema() map[string]any {
	m := s.mapS.jsonSchema()
	m["minProperties"] = 1
	return m
}

// nullS accepts only null (Python None).
type nullS struct{}

func (nullS) check(c *checker, v *value, path string) {
	if v.kind != kindNull {
		c.add(v, path, "expected null, got %s", v.typeName())
	}
}
func (nullS) expect() string             { return "null" }
func (nullS) jsonSchema() map[string]any { return map[string]any{"type": "null"} }

func deployBase(to string, fields ...field) *mapS {
	return actionCommonS().with(opt("os", str), opt("authorize", enumS{"ssh"})).
		with(req("to", enumS{to})).with(fields...)
}

func deploySchemas() map[string]schema {
	resource := urlS()
	kernel := urlS(opt("type", enumS{"image", "uimage", "zimage"}))
	usbImages := &mapS{fields: []field{req("image", resource)}, rest: resource}
	tool := mapOf(req("tool", str), req("options", str), req("prompt", str))
	usb := func(to string) schema {
		return deployBase(to,
			field{name: "images", s: usbImages, exclusive: "image"},
			field{name: "image", s: resource, exclusive: "image"},
			req("device", str), opt("download", tool), opt("writer", tool),
			opt("tool", mapOf(req("prompts", strList))), opt("uniquify", boolean))
	}
	nfsImages := imagesS(urlS(opt("image_arg", str)))
	return map[string]schema{
		"docker": deployBase("docker",
			req("image", anyOf(dockerImage, dockerS("name"))), opt("repeat", positive)),
		"download": deployBase("download", req("images", imagesS(resource))),
		"downloads": deployBase("downloads", req("images", imagesS(resource)),
			opt("postprocess", mapOf(req("docker", dockerS("image").with(req("steps", strList)))))),
		"fastboot": deployBase("fastboot",
			req("images", imagesS(urlS(opt("apply-overlay", boolean), opt("root_partition", natural),
				opt("sparse", boolean), opt("reboot", enumS{"hard-reset", "fastboot-reboot",
					"fastboot-reboot-bootloader", "fastboot-reboot-fastboot"})))),
			opt("docker", dockerS("image")), opt("connection", enumS{"lxc"})),
		"flasher": deployBase("flasher", req("images", &mapS{rest: resource})),
		"fvp": deployBase("fvp",
			opt("ramdisk", mapOf(opt("install_overlay", boolean), opt("compression", str), opt("header", enumS{"u-boot"}))),
			opt("uniquify", boolean), req("images", imagesS(resource))),
		"iso-installer": deployBase("iso-installer",
			req("images", mapOf(req("iso", urlS(opt("image_arg", str))), req("preseed", resource))),
			req("iso", mapOf(req("installation_size", str), opt("kernel", str), opt("initrd", str)))),
		"lxc": deployBase("lxc", opt("packages", strList)),
		"mps": deployBase("mps", req("images", nonEmptyMap{&mapS{
			fields: []field{opt("recovery_image", resource)},
			rest:   patternKeys{regexp.MustCompile(`^test_binary(_\w+)?$`), urlS(opt("rename", str))},
		}, "expected at least one image"})),
		"musca": deployBase("musca", req("images", mapOf(req("test_binary", resource)))),
		"nbd": deployBase("nbd", req("kernel", kernel), req("nbdroot", resource),
			req("initrd", resource), opt("dtb", resource)),
		"nfs": anyS{alts: []schema{
			deployBase("nfs", opt("nfsrootfs", resource), opt("modules", resource)),
			deployBase("nfs", req("images", nfsImages)),
		}},
		"overlay":  deployBase("overlay"),
		"recovery": deployBase("recovery", req("images", imagesS(resource))),
		"sata":     usb("sata"),
		"usb":      usb("usb"),
		"ssh": deployBase("ssh", opt("firmware", resource), opt("kernel", resource),
			opt("rootfs", resource), opt("modules", resource)),
		"tftp": deployBase("tftp", req("kernel", kernel),
			opt("dtb", resource), opt("modules", resource), opt("preseed", resource),
			opt("ramdisk", urlS(opt("install_modules", boolean), opt("install_overlay", boolean), opt("header", enumS{"u-boot"}))),
			field{name: "nfsrootfs", exclusive: "nfs", s: urlS(opt("install_modules", boolean),
				opt("install_overlay", boolean), opt("prefix", str))},
			field{name: "persistent_nfs", exclusive: "nfs", s: mapOf(req("address", str), opt("install_overlay", boolean))},
			opt("tee", resource)),
		"tmpfs": deployBase("tmpfs",
			req("images", imagesS(urlS(opt("format", enumS{"qcow2"}), opt("image_arg", str)))),
			opt("type", enumS{"monitor"}), opt("uefi", resource)),
		"u-boot-ums": deployBase("u-boot-ums", req("image", urlS(opt("root_partition", natural)))),
		"uuu": deployBase("uuu", req("images", nonEmptyMap{&mapS{
			fields: []field{req("boot", resource)},
			rest:   urlS(opt("apply-overlay", boolean), opt("root_partition", natural)),
		}, "expected at least one image"})),
		"vemsd": deployBase("vemsd", req("recovery_image", resource)),
	}
}

// patternKeys validates keys by a pattern and their values by a schema.
type patternKeys struct {
	re *regexp.Regexp
	s  schema
}

func (p patternKeys) check(c *checker, v *value, path string) {
	p.s.check(c, v, path)
}
func (p patternKeys) expect() string             { return p.s.expect() }
func (p patternKeys) jsonSchema() map[string]any { return p.s.jsonSchema() }

func autoLoginS() schema {
	return anyOf(
		mapOf(req("login_prompt", nonEmptyStr), req("username", str),
			opt("login_commands", listOf(nonEmptyStr))),
		mapOf(req("login_prompt", nonEmptyStr), req("username", str),
			req("password_prompt", str), req("password", str), opt("login_commands", strList)),
	)
}

func transferOverlayS() *mapS {
	return mapOf(req("download_command", str), req("unpack_command", str), opt("transfer_method", str))
}

var prompts = anyOf(nonEmptyStr, listOf(nonEmptyStr))

var strOrList = anyOf(str, strList)

func bootBase(method string, fields ...field) *mapS {
	return actionCommonS().with(
		opt("parameters", mapOf(opt("kernel-start-message", str), opt("shutdown-message", str))),
		opt("soft_reboot", strOrList),
	).with(req("method", enumS{method})).with(fields...)
}

func bootSchemas() map[string]schema {
	login := opt("auto_login", autoLoginS())
	overlay := opt("transfer_overlay", transferOverlayS())
	pr := opt("prompts", prompts)
	grub := func(m string) schema {
		return bootBase(m, req("commands", strOrList), login, opt("boot_finished", strOrList),
			opt("expect_shell", boolean), pr, opt("use_bootscript", boolean), overlay)
	}
	return map[string]schema{
		"barebox":    bootBase("barebox", req("commands", strOrList), pr, login, overlay),
		"bootloader": bootBase("bootloader", req("bootloader", str), req("commands", strList), opt("use_bootscript", boolean), pr),
		"cmsis-dap":  bootBase("cmsis-dap"),
		"depthcharge": bootBase("depthcharge", req("commands", strOrList), opt("extra_kernel_args", str),
			login, pr, opt("use_bootscript", boolean), overlay),
		"dfu":    bootBase("dfu"),
		"docker": bootBase("docker", req("command", str), pr, opt("downloads-namespace", str)),
		"fastboot": bootBase("fastboot", opt("commands", strList), opt("use_bootscript", boolean), pr,
			login, overlay, opt("docker", dockerS("image"))),
		"fvp": bootBase("fvp", opt("use_telnet", boolean), req("console_string", str),
			opt("feedbacks", strList), req("image", str), opt("license_variable", str),
			opt("version_string", str), req("arguments", strList), req("prompts", prompts),
			req("docker", dockerS("name")), overlay, login),
		"gdb":      bootBase("gdb", req("commands", str), opt("container", str)),
		"grub":     grub("grub"),
		"grub-efi": grub("grub-efi"),
		"ipxe": bootBase("ipxe", req("commands", strOrList), pr, overlay, login,
			opt("use_bootscript", boolean)),
		"jlink": bootBase("jlink"),
		"kexec": bootBase("kexec", req("boot_message", str), pr, login, opt("deploy", boolean),
			opt("command", str), opt("kernel", str), opt("dtb", str), opt("initrd", str),
			opt("options", strList), opt("kernel-config", str), overlay, opt("on_panic", boolean)),
		"lxc": bootBase("lxc", req("prompts", prompts)),
		"minimal": bootBase("minimal", pr, login, opt("pre_power_command", boolean),
			opt("pre_os_command", boolean), opt("reset", boolean), overlay),
		"monitor":        bootBase("monitor"),
		"musca":          bootBase("musca", pr),
		"new_connection": bootBase("new_connection", req("connection", str), pr, login, overlay),
		"openocd":        bootBase("openocd"),
		"pyocd":          bootBase("pyocd"),
		"qemu": bootBase("qemu", opt("connection", enumS{"serial"}), opt("media", enumS{"tmpfs"}),
			pr, overlay, login, opt("docker", dockerS("image").with(opt("binary", str)))),
		"qemu-iso": bootBase("qemu-iso", req("media", enumS{"img"}), pr, login),
		"qemu-nfs": bootBase("qemu-nfs", opt("connection", enumS{"serial"}), pr, overlay, login),
		"recovery": bootBase("recovery", req("commands", enumS{"recovery", "exit"})),
		"schroot":  bootBase("schroot", pr, req("connection", enumS{"ssh"}), req("schroot", str)),
		"ssh": bootBase("ssh", pr, req("connection", enumS{"ssh"}),
			opt("parameters", mapOf(opt("hostID", str), opt("host_key", str)))),
		"u-boot": bootBase("u-boot", req("commands", strOrList), pr, login,
			opt("use_bootscript", boolean), overlay),
		"uefi":      bootBase("uefi", req("commands", strOrList), opt("shell_menu", str), pr, login),
		"uefi-menu": bootBase("uefi-menu", opt("commands", str), opt("line_separator", str), pr, login),
		"uuu": bootBase("uuu", req("commands", anyOf(str, listOf(&mapS{rest: str}))),
			opt("docker", dockerS("image"))),
	}
}

func testdefS() *mapS {
	results := &mapS{rest: enumS{"pass", "fail", "skip", "unknown"}}
	return mapOf(
		req("metadata", mapOf(
			req("format", enumS{"Lava-Test Test Definition 1.0"}), req("name", str),
			opt("description", str), opt("environment", strList), opt("devices", strList),
			opt("maintainer", strList), opt("scope", strList), opt("os", strList),
		)),
		opt("install", &mapS{fields: []field{
			opt("deps", strList), opt("git-repos", strList), opt("keys", strList),
			opt("steps", strList), opt("sources", strList),
		}, rest: patternKeys{regexp.MustCompile(`^deps-.+`), strList}}),
		opt("parameters", anyDict), opt("params", anyDict),
		opt("parse", mapOf(opt("fixupdict", results))),
		opt("run", mapOf(req("steps", strList))),
	)
}

func testDefinitionS() *mapS {
	common := []field{
		req("path", str), req("name", testName),
		opt("skip_install", listOf(enumS{"keys", "sources", "deps", "steps", "git-repos", "all"})),
		opt("lava-signal", enumS{"kmsg", "stdout"}),
	}
	git := mapOf(append([]field{req("repository", str), req("from", enumS{"git"}),
		opt("branch", str), opt("history", boolean), opt("revision", str),
		opt("parameters", anyDict), opt("params", anyDict)}, common...)...)
	url := mapOf(append([]field{req("repository", str), req("from", enumS{"url"}),
		req("compression", str), opt("parameters", anyDict), opt("params", anyDict)}, common...)...)
	inline := mapOf(append([]field{req("repository", testdefS()), req("from", enumS{"inline"})}, common...)...)
	return actionCommonS().with(req("definitions", listOf(fromSwitch{map[string]schema{
		"git": git, "url": url, "inline": inline,
	}})))
}

// fromSwitch picks a definition's schema by its "from" key, so the errors
// are those of the intended shape.
type fromSwitch struct{ byFrom map[string]schema }

func (f fromSwitch) check(c *checker, v *value, path string) {
	if v.kind != kindMap {
		c.add(v, path, "expected a mapping, got %s", v.typeName())
		return
	}
	from := v.get("from")
	if from == nil {
		c.add(v, joinPath(path, "from"), "required key not provided")
		return
	}
	s, ok := f.byFrom[from.keyString()]
	if !ok || from.kind != kindStr {
		c.add(from, joinPath(path, "from"), "expected one of git, inline, url")
		return
	}
	s.check(c, v, path)
}

func (f fromSwitch) expect() string { return "a test definition from git, url or inline" }

func (f fromSwitch) jsonSchema() map[string]any {
	alts := []any{}
	for _, k := range []string{"git", "url", "inline"} {
		alts = append(alts, f.byFrom[k].jsonSchema())
	}
	return map[string]any{"oneOf": alts}
}

func testSchemas() map[string]schema {
	signal := strS{}
	script := mapOf(
		opt("command", anyOf(str, nullS{})), opt("delay", integer),
		opt("lava-send", signal), opt("lava-sync", signal), opt("lava-wait", signal), opt("lava-wait-all", signal),
		opt("name", testName), opt("wait_for_prompt", boolean),
		opt("successes", listOf(mapOf(req("message", nonEmptyStr)))),
		opt("failures", listOf(mapOf(req("message", nonEmptyStr),
			opt("exception", enumS{"InfrastructureError", "JobError", "TestError"}),
			opt("error", nonEmptyStr)))),
	)
	return map[string]schema{
		"definition": testDefinitionS(),
		"docker":     testDefinitionS().with(req("docker", dockerS("image")), opt("downloads-namespace", str)),
		"interactive": actionCommonS().with(req("interactive", listOf(mapOf(
			req("name", testName), req("prompts", listOf(nonEmptyStr)),
			opt("echo", enumS{"discard"}), req("script", listOf(script)),
		)))),
		"monitor": actionCommonS().with(req("monitors", listOf(mapOf(
			req("name", testName), req("start", str), req("end", str), req("pattern", str),
			opt("fixupdict", &mapS{rest: enumS{"pass", "fail", "skip", "unknown"}}),
		)))),
	}
}

var (
	registryOnce sync.Once
	registry     map[string]map[string]schema
)

func actionRegistry() map[string]map[string]schema {
	registryOnce.Do(func() {
		registry = map[string]map[string]schema{
			"deploy":  deploySchemas(),
			"boot":    bootSchemas(),
			"test":    testSchemas(),
			"command": {"": actionCommonS().with(req("name", str))},
		}
	})
	return registry
}

// methodKey is the key naming an action's method.
var methodKey = map[string]string{"deploy": "to", "boot": "method"}

// actionSchema returns the schema for an action body and, when none fits,
// the key whose value selects it ("" for a test of no known shape).
func actionSchema(kind string, body *value) (schema, string) {
	reg := actionRegistry()[kind]
	switch kind {
	case "command":
		return reg[""], ""
	case "test":
		switch {
		case body.get("definitions") != nil && body.get("docker") != nil:
			return reg["docker"], ""
		case body.get("definitions") != nil:
			return reg["definition"], ""
		case body.get("interactive") != nil:
			return reg["interactive"], ""
		case body.get("monitors") != nil:
			return reg["monitor"], ""
		}
		return nil, ""
	}
	key := methodKey[kind]
	m := body.get(key)
	if m == nil || m.kind != kindStr {
		return nil, key
	}
	if s, ok := reg[m.s]; ok {
		return s, key
	}
	return nil, key
}

// methodNames lists the known methods of deploy or boot.
func methodNames(kind string) []string {
	var names []string
	for n := range actionRegistry()[kind] {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DeployMethods and BootMethods list the deploy "to" and boot "method"
// values the validator knows.
func DeployMethods() []string { return methodNames("deploy") }
func BootMethods() []string   { return methodNames("boot") }

func actionKindJSONSchema(kind string) map[string]any {
	reg := actionRegistry()[kind]
	names := make([]string, 0, len(reg))
	for n := range reg {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 1 {
		return reg[names[0]].jsonSchema()
	}
	alts := make([]any, len(names))
	for i, n := range names {
		alts[i] = reg[n].jsonSchema()
	}
	return map[string]any{"anyOf": alts}
}

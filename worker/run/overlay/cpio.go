package overlay

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
)

// newcMagic starts every entry of a "newc" cpio archive, the initramfs format.
const newcMagic = "070701"

// CPIO turns the overlay (Build's tar.gz) into a gzip-compressed newc cpio
// archive: appended to an initramfs, the kernel unpacks it over the first.
func CPIO(tgz []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, fmt.Errorf("overlay cpio: %w", err)
	}
	tr := tar.NewReader(zr)
	var raw bytes.Buffer
	ino := 0
	entry := func(name string, mode int64, data []byte) {
		ino++
		nlink := 1
		if mode&0o170000 == 0o040000 {
			nlink = 2
		}
		fmt.Fprintf(&raw, "%s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			newcMagic, ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
		raw.WriteString(name)
		raw.WriteByte(0)
		pad4(&raw)
		raw.Write(data)
		pad4(&raw)
	}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("overlay cpio: %w", err)
		}
		name := h.Name
		for len(name) > 0 && name[len(name)-1] == '/' {
			name = name[:len(name)-1]
		}
		switch h.Typeflag {
		case tar.TypeDir:
			entry(name, 0o040000|h.Mode&0o7777, nil)
		case tar.TypeSymlink:
			entry(name, 0o120000|0o777, []byte(h.Linkname))
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("overlay cpio: %w", err)
			}
			entry(name, 0o100000|h.Mode&0o7777, data)
		}
	}
	entry("TRAILER!!!", 0, nil)
	var out bytes.Buffer
	gz := gzip.NewWriter(&out)
	if _, err := gz.Write(raw.Bytes()); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func pad4(b *bytes.Buffer) {
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
}

// IsInitramfs tells whether the file is a newc cpio archive, plain or
// gzip-compressed: only those can take an appended overlay.
func IsInitramfs(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, _ := br.Peek(6)
	if string(head) == newcMagic {
		return true
	}
	if len(head) < 2 || head[0] != 0x1f || head[1] != 0x8b {
		return false
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return false
	}
	magic := make([]byte, 6)
	_, err = io.ReadFull(zr, magic)
	return err == nil && string(magic) == newcMagic
}

// AppendToInitramfs appends the overlay cpio to the initramfs at path,
// after padding it to 4 bytes as the kernel's unpacker expects.
func AppendToInitramfs(path string, cpioGz []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil {
		if pad := (4 - st.Size()%4) % 4; pad > 0 {
			_, err = f.Write(make([]byte, pad))
		}
	}
	if err == nil {
		_, err = f.Write(cpioGz)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

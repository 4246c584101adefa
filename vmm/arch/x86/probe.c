// SPDX-License-Identifier: MIT
/*
 * The probe's questions on x86-64: its guests run in real mode from GPA 0
 * and report with a port write; the conversion call is KVM_HC_MAP_GPA_RANGE;
 * QEMU's emulator is recognised by its CPUID signature.
 */
#include "arch/arch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "gmemvm_abi.h"
#include "probe.h"

#define PROBE_PORT 0x10

const char arch_conversion_call_name[] = "KVM_HC_MAP_GPA_RANGE";
const char arch_conversion_call_exit[] = "KVM_EXIT_HYPERCALL";
const char arch_emulator_words[] =
	"QEMU's emulator (TCG): the guest exits after each return from user mode";

/* Real mode: mov al, [0x100]; out 0x10, al; hlt. */
static const uint8_t probe_code[] = { 0xa0, 0x00, 0x01, 0xe6, PROBE_PORT, 0xf4 };
_Static_assert(ARCH_PROBE_DATA_OFFSET == 0x100, "probe_code reads the byte at 0x100");

void arch_probe_write_guest(uint8_t *page, size_t size)
{
	memset(page, 0xf4, size); /* hlt everywhere else */
	memcpy(page, probe_code, sizeof(probe_code));
}

int arch_probe_vcpu_init(int vm_fd, int vcpu_fd)
{
	(void)vm_fd;
	struct kvm_sregs sregs;
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	struct kvm_regs regs = { .rip = 0, .rflags = 0x2 };
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

bool arch_probe_exit_value(const struct kvm_run *run, uint8_t *value)
{
	if (run->exit_reason != KVM_EXIT_IO || run->io.port != PROBE_PORT)
		return false;
	*value = *((const uint8_t *)run + run->io.data_offset);
	return true;
}

unsigned int arch_shared_bit(unsigned int guest_phys_bits)
{
	/* TDX takes the top GPA bit, but a guest access with bit 47 set shuts
	 * the vCPU down on one KVM (measured), so gmemvm takes the bit below
	 * it, at most 46 (4-level paging), at least 39 (its own PML4 entry). */
	unsigned int bit = guest_phys_bits - 2;
	return bit > 46 ? 46 : bit < 39 ? 0 : bit;
}

/* The CPU vendor decides the hypercall instruction: vmmcall on AMD and Hygon,
 * vmcall elsewhere (KVM's guests see the host's vendor). */
static bool host_cpu_is_amd(void)
{
	unsigned int eax, ebx, ecx, edx;
	__asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(0), "c"(0));
	char vendor[13];
	memcpy(vendor, &ebx, 4);
	memcpy(vendor + 4, &edx, 4);
	memcpy(vendor + 8, &ecx, 4);
	vendor[12] = '\0';
	return strcmp(vendor, "AuthenticAMD") == 0 || strcmp(vendor, "HygonGenuine") == 0;
}

/* Real mode: eax = KVM_HC_MAP_GPA_RANGE, ebx = 0x1000, ecx = 1 page, edx = 0
 * (shared), then the hypercall instruction (3 bytes, patched in), then hlt. */
static const uint8_t map_gpa_range_code[] = {
	0x66, 0xb8, GMEMVM_KVM_HC_MAP_GPA_RANGE,
	0,    0,    0, /* mov eax, 12 */
	0x66, 0xbb, 0x00,
	0x10, 0,    0, /* mov ebx, 0x1000 */
	0x66, 0xb9, 1,
	0,    0,    0,	  /* mov ecx, 1 */
	0x66, 0x31, 0xd2, /* xor edx, edx */
	0x0f, 0x01, 0xc1, /* vmcall (vmmcall: 0f 01 d9) */
	0xf4,		  /* hlt */
};
#define MAP_GPA_RANGE_CALL_OFFSET 21

/*
 * Does the guest's KVM_HC_MAP_GPA_RANGE reach the VMM? Enable the exit on a
 * throwaway VM and run the call: KVM_EXIT_HYPERCALL with the same arguments
 * within a second means yes. Asked, not assumed: a host may have the
 * capability and still never return from the hypercall.
 */
void arch_probe_conversion_call(int kvm_fd, struct host_probe *probe)
{
	probe->hypercall_vmmcall = host_cpu_is_amd();
	if (!(probe->caps.exit_hypercall & (1ULL << GMEMVM_KVM_HC_MAP_GPA_RANGE))) {
		snprintf(probe->map_gpa_range_detail, sizeof(probe->map_gpa_range_detail),
			 "KVM_CAP_EXIT_HYPERCALL does not offer it");
		return;
	}
	struct probe_vm vm;
	struct kvm_enable_cap enable = { .cap = KVM_CAP_EXIT_HYPERCALL,
					 .args = { 1ULL << GMEMVM_KVM_HC_MAP_GPA_RANGE } };
	int status = probe_vm_open(kvm_fd, &vm);
	if (status == 0 && ioctl(vm.fd, KVM_ENABLE_CAP, &enable) < 0)
		status = -errno;
	if (status < 0) {
		snprintf(probe->map_gpa_range_detail, sizeof(probe->map_gpa_range_detail),
			 "not probed: could not set up the probe VM: %s", strerror(-status));
		goto out;
	}
	uint8_t *page = vm.page;
	memset(page, 0xf4, PROBE_PAGE);
	memcpy(page, map_gpa_range_code, sizeof(map_gpa_range_code));
	if (probe->hypercall_vmmcall)
		page[MAP_GPA_RANGE_CALL_OFFSET + 2] = 0xd9;
	struct probe_vcpu vcpu = { .fd = -1 };
	if (probe_run_guest(kvm_fd, vm.fd, &vcpu, 1, probe->map_gpa_range_detail,
			    sizeof(probe->map_gpa_range_detail)) == 0) {
		const struct kvm_run *run = vcpu.run;
		probe->map_gpa_range_exits = run->exit_reason == KVM_EXIT_HYPERCALL &&
					     run->hypercall.nr == GMEMVM_KVM_HC_MAP_GPA_RANGE &&
					     run->hypercall.args[0] == 0x1000 &&
					     run->hypercall.args[1] == 1;
		snprintf(probe->map_gpa_range_detail, sizeof(probe->map_gpa_range_detail), "%s: %s",
			 probe->hypercall_vmmcall ? "vmmcall" : "vmcall",
			 probe->map_gpa_range_exits ? "KVM_EXIT_HYPERCALL"
						    : "ended with another exit");
	}
	probe_guest_finish(&vcpu);
out:
	probe_vm_close(&vm);
}

/* CPUID 0x40000000 says "TCGTCGTCGTCG" under QEMU's emulator. */
bool arch_under_emulator(void)
{
	unsigned int eax, ebx, ecx, edx;
	__asm__ volatile("cpuid"
			 : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx)
			 : "a"(0x40000000), "c"(0));
	char signature[13];
	memcpy(signature, &ebx, 4);
	memcpy(signature + 4, &ecx, 4);
	memcpy(signature + 8, &edx, 4);
	signature[12] = '\0';
	return strcmp(signature, "TCGTCGTCGTCG") == 0;
}

void arch_probe_protected(int kvm_fd, struct host_probe *probe)
{
	(void)kvm_fd, (void)probe; /* x86 has no protected VMs of pKVM's kind to ask about */
}

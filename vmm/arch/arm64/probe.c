// SPDX-License-Identifier: MIT
/*
 * The probe's questions on arm64: its guests run from GPA 0 with the MMU
 * off and report with an MMIO write; the conversion call is SMCCC
 * MEM_SHARE, which reaches the VMM only through KVM's SMCCC filter.
 */
#include "arch/arch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/arm64/arm64_kvm.h"
#include "gmemvm_abi.h"
#include "probe.h"

const char arch_conversion_call_name[] = "SMCCC MEM_SHARE/UNSHARE";
const char arch_conversion_call_exit[] = "KVM_EXIT_HYPERCALL via the SMCCC filter";
const char arch_emulator_words[] = "QEMU's virt machine (linux,dummy-virt)";

#define PROBE_MMIO  0x10000	/* above the probe's one page: no memslot */
#define BRANCH_SELF 0x14000000U /* b . */

/* movz x1, #0x100; ldrb w0, [x1]; movz x2, #1, lsl #16; strb w0, [x2]; b . */
static const uint32_t probe_code[] = { 0xd2802001, 0x39400020, 0xd2a00022, 0x39000040,
				       BRANCH_SELF };
_Static_assert(ARCH_PROBE_DATA_OFFSET == 0x100, "probe_code reads the byte at 0x100");

/* movz w0, #3; movk w0, #0xc600, lsl #16 (MEM_SHARE); movz x1, #0x1000; hvc #0; b . */
static const uint32_t mem_share_code[] = { 0x52800060, 0x72b8c000, 0xd2820001, 0xd4000002,
					   BRANCH_SELF };

static void write_code(uint8_t *page, size_t size, const uint32_t *code, size_t words)
{
	for (size_t offset = 0; offset + 4 <= size; offset += 4)
		memcpy(page + offset, &(uint32_t){ BRANCH_SELF }, 4); /* parked everywhere else */
	memcpy(page, code, words * sizeof(code[0]));
}

void arch_probe_write_guest(uint8_t *page, size_t size)
{
	write_code(page, size, probe_code, sizeof(probe_code) / sizeof(probe_code[0]));
}

int arch_probe_vcpu_init(int vm_fd, int vcpu_fd)
{
	struct kvm_vcpu_init init;
	if (ioctl(vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0 ||
	    ioctl(vcpu_fd, KVM_ARM_VCPU_INIT, &init) < 0 ||
	    arm64_set_reg(vcpu_fd, ARM64_CORE_REG(regs.pstate), GMEMVM_PSTATE_EL1H_MASKED) < 0 ||
	    arm64_set_reg(vcpu_fd, ARM64_CORE_REG(regs.pc), 0) < 0)
		return -errno;
	return 0;
}

bool arch_probe_exit_value(const struct kvm_run *run, uint8_t *value)
{
	if (run->exit_reason != KVM_EXIT_MMIO || run->mmio.phys_addr != PROBE_MMIO ||
	    !run->mmio.is_write)
		return false;
	*value = run->mmio.data[0];
	return true;
}

/*
 * Does the guest's MEM_SHARE reach the VMM? Set the filter on a throwaway VM
 * and make the call: KVM_EXIT_HYPERCALL naming it within a second means yes.
 */
void arch_probe_conversion_call(int kvm_fd, struct host_probe *probe)
{
	probe->hypercall_vmmcall = false;
	struct probe_vm vm;
	struct gmemvm_error error = { 0 };
	int status = probe_vm_open(kvm_fd, &vm);
	if (status == 0 && arch_vm_init(vm.fd, true, &error) < 0)
		status = error.code ? error.code : -EINVAL;
	if (status < 0) {
		snprintf(probe->map_gpa_range_detail, sizeof(probe->map_gpa_range_detail),
			 "the SMCCC filter cannot forward MEM_SHARE: %s", strerror(-status));
		goto out;
	}
	write_code(vm.page, PROBE_PAGE, mem_share_code,
		   sizeof(mem_share_code) / sizeof(mem_share_code[0]));
	struct probe_vcpu vcpu = { .fd = -1 };
	if (probe_run_guest(kvm_fd, vm.fd, &vcpu, 1, probe->map_gpa_range_detail,
			    sizeof(probe->map_gpa_range_detail)) == 0) {
		const struct kvm_run *run = vcpu.run;
		probe->map_gpa_range_exits = run->exit_reason == KVM_EXIT_HYPERCALL &&
					     run->hypercall.nr == GMEMVM_SMCCC_MEM_SHARE;
		snprintf(probe->map_gpa_range_detail, sizeof(probe->map_gpa_range_detail),
			 "SMCCC MEM_SHARE with hvc: %s",
			 probe->map_gpa_range_exits ? "KVM_EXIT_HYPERCALL (SMCCC filter)"
						    : "ended with another exit");
	}
	probe_guest_finish(&vcpu);
out:
	probe_vm_close(&vm);
}

/* QEMU's virt machine names itself in the device tree: in the lab, the
 * emulator. Nothing in the arm64 guest depends on it. */
bool arch_under_emulator(void)
{
	char compatible[64] = "";
	FILE *file = fopen("/proc/device-tree/compatible", "re");
	if (!file)
		return false;
	size_t length = fread(compatible, 1, sizeof(compatible) - 1, file);
	fclose(file);
	compatible[length] = '\0';
	return strcmp(compatible, "linux,dummy-virt") == 0;
}

/* boot.S — drover's test guest: a 512-byte x86 boot sector, no OS.
 *
 * Contract (what tests rely on):
 *   - at boot it writes "drover-guest boot dirty_mib=N line_ticks=T\n" to COM1 (port 0x3f8);
 *   - then, forever, on every BIOS timer tick (IRQ0, ~18.2 Hz) it writes the tick number into one
 *     dword of every 4 KiB page in [1 MiB, 1 MiB + DIRTY_MIB MiB), so each page is dirty again at
 *     every tick and a live migration has real work to do;
 *   - every LINE_TICKS ticks it writes "drover-guest tick N\n" to COM1 with N counting up from 1,
 *     so a serial log that keeps growing (with increasing N) proves the guest keeps running;
 *   - between ticks it halts (sti; hlt), so an idle host core is not burnt — or, built with BUSY=1
 *     (the CPU-busy mode), it spins (polls the tick counter, interrupts on) so its vCPU wants a host CPU
 *     all the time: two such guests pinned to the same host CPUs make real CPU pressure (steal).
 *   The boot line is "drover-guest boot dirty_mib=N line_ticks=T busy=B\n".
 *
 * Build-time knobs (assembler --defsym): DIRTY_MIB (default 96, keep it below guest RAM - 8 MiB),
 * LINE_TICKS (default 4, i.e. ~4.5 lines per second), BUSY (default 0).
 *
 * Memory above 1 MiB is reached from real mode through "unreal mode": FS is loaded with a 4 GiB flat
 * data descriptor in protected mode, then the CPU goes back to real mode keeping FS's cached limit.
 * BIOS interrupt handlers may reload segment registers, so this is redone (with interrupts off)
 * before every dirtying pass.
 *
 * Assemble: as --32 -o boot.o boot.S; link: ld -m elf_i386 -Ttext 0x7c00 --oformat binary.
 */
        .ifndef DIRTY_MIB
        .set DIRTY_MIB, 96
        .endif
        .ifndef LINE_TICKS
        .set LINE_TICKS, 4
        .endif
        .ifndef BUSY
        .set BUSY, 0
        .endif

        .set COM1, 0x3f8
        .set COM1_LSR, 0x3fd
        .set BDA_TICKS, 0x46c          /* BIOS tick counter (dword), linear address */
        .set DIRTY_BASE, 0x100000      /* first byte dirtied: 1 MiB */
        .set DIRTY_PAGES, DIRTY_MIB * 256

        .code16
        .text
        .globl _start
_start:
        cli
        xorw    %ax, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movw    $0x7c00, %sp
        ljmp    $0, $s_main             /* normalise CS:IP to 0:7c00+ */

s_main:
        /* Fast A20 gate, so addresses above 1 MiB do not wrap. */
        inb     $0x92, %al
        orb     $2, %al
        andb    $0xfe, %al
        outb    %al, $0x92

        movw    $msg_boot, %si
        call    s_puts
        movl    $DIRTY_MIB, %eax
        call    s_putu
        movw    $msg_line_ticks, %si
        call    s_puts
        movl    $LINE_TICKS, %eax
        call    s_putu
        movw    $msg_busy, %si
        call    s_puts
        movl    $BUSY, %eax
        call    s_putu
        movb    $'\n', %al
        call    s_putc

        xorl    %ebp, %ebp              /* ebp: ticks seen */
        xorl    %ebx, %ebx              /* ebx: lines written */
        movl    BDA_TICKS, %eax
        movl    %eax, last_tick
        sti

s_wait_tick:
        .if BUSY
        nop                             /* busy mode: spin until IRQ0 bumps the tick counter */
        .else
        hlt                             /* woken by IRQ0 (or any interrupt) */
        .endif
        movl    BDA_TICKS, %eax
        cmpl    last_tick, %eax
        je      s_wait_tick
        movl    %eax, last_tick
        incl    %ebp

        call    s_dirty

        /* A line every LINE_TICKS ticks. */
        movl    %ebp, %eax
        xorl    %edx, %edx
        movl    $LINE_TICKS, %ecx
        divl    %ecx
        testl   %edx, %edx
        jnz     s_wait_tick
        incl    %ebx
        movw    $msg_tick, %si
        call    s_puts
        movl    %ebx, %eax
        call    s_putu
        movb    $'\n', %al
        call    s_putc
        jmp     s_wait_tick

/* s_dirty: enters unreal mode and writes ebp into the first dword of every page of the dirty range.
 * Clobbers eax, ecx, edi. Interrupts are off while it runs and on again when it returns. */
s_dirty:
        movl    $DIRTY_PAGES, %ecx
        testl   %ecx, %ecx
        jz      2f
        cli
        lgdt    gdt_desc
        movl    %cr0, %eax
        orb     $1, %al
        movl    %eax, %cr0
        jmp     0f                      /* serialise after entering protected mode */
0:      movw    $8, %ax                 /* flat 4 GiB data descriptor */
        movw    %ax, %fs
        movl    %cr0, %eax
        andb    $0xfe, %al
        movl    %eax, %cr0
        jmp     0f
0:      xorw    %ax, %ax
        movw    %ax, %fs                /* base 0 again; the 4 GiB limit stays cached */
        movl    $DIRTY_BASE, %edi
1:      movl    %ebp, %fs:(%edi)
        addl    $4096, %edi
        decl    %ecx
        jnz     1b
        sti
2:      ret

/* s_putc: writes al to COM1, waiting for the transmitter holding register to be empty. */
s_putc:
        pushw   %dx
        pushw   %ax
        movw    $COM1_LSR, %dx
0:      inb     %dx, %al
        testb   $0x20, %al
        jz      0b
        popw    %ax
        movw    $COM1, %dx
        outb    %al, %dx
        popw    %dx
        ret

/* s_puts: writes the NUL-terminated string at ds:si to COM1. */
s_puts:
        pushw   %ax
0:      lodsb
        testb   %al, %al
        jz      1f
        call    s_putc
        jmp     0b
1:      popw    %ax
        ret

/* s_putu: writes eax as an unsigned decimal number to COM1. Clobbers eax, ecx, edx, di. */
s_putu:
        movw    $numbuf_end, %di
        movl    $10, %ecx
0:      xorl    %edx, %edx
        divl    %ecx
        addb    $'0', %dl
        decw    %di
        movb    %dl, (%di)
        testl   %eax, %eax
        jnz     0b
1:      movb    (%di), %al
        call    s_putc
        incw    %di
        cmpw    $numbuf_end, %di
        jne     1b
        ret

msg_boot:       .asciz "drover-guest boot dirty_mib="
msg_line_ticks: .asciz " line_ticks="
msg_busy:       .asciz " busy="
msg_tick:       .asciz "drover-guest tick "

        .p2align 3
gdt:    .quad   0                       /* null descriptor */
        .quad   0x00cf92000000ffff      /* 0x08: base 0, limit 4 GiB, data, read/write */
gdt_desc:
        .word   gdt_desc - gdt - 1
        .long   gdt

last_tick: .long 0
numbuf: .space  10
numbuf_end:

        .org    510
        .word   0xaa55

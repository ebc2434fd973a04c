// Writes a trace of a small producer/consumer program.
//   WEFT_TRACE=stderr ./weft_trace_demo            one line per event on stderr
//   WEFT_TRACE=chrome:trace.json ./weft_trace_demo  then open trace.json in ui.perfetto.dev
//   ./weft_trace_demo trace.json                    the same, enabled from code
#include <weft/weft.hpp>

#include <chrono>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc > 1) weft::trace::enable(std::string("chrome:") + argv[1]);
  int total = weft::run([] {
    weft::this_fiber::set_name("main");
    weft::channel<int> work(2);
    weft::wait_group done;
    int sum = 0;
    done.add(2);
    for (int c = 0; c < 2; ++c)
      weft::spawn([&, c] {
        weft::this_fiber::set_name(c == 0 ? "consumer-a" : "consumer-b");
        while (auto v = work.recv()) {
          sum += *v;
          weft::this_fiber::sleep_for(std::chrono::microseconds(200));
        }
        done.done();
      }).detach();
    auto producer = weft::spawn([&] {
      weft::this_fiber::set_name("producer");
      for (int i = 1; i <= 8; ++i) work.send(i);
      work.close();
    });
    producer.join();
    done.wait();
    return sum;
  });
  weft::trace::disable();
  std::printf("sum %d\n", total);
  return total == 36 ? 0 : 1;
}

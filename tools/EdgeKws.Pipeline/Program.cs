System.Console.WriteLine("EdgeKws main job: placeholder");
